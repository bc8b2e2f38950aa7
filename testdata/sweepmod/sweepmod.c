// SPDX-License-Identifier: GPL-2.0
/*
 * sweepmod - a module whose init unwinds one failure wrongly, for
 * kmodvm's fault-injection sweep (kmodvm run --inject-faults).
 *
 * Its init makes three allocations. When the second fails, it returns
 * without freeing the first: a leak that no test sees (allocations do
 * not fail in tests) and the sweep must name, at the first allocation's
 * line. The third's failure is unwound right, unless the module is
 * loaded with swallow=1: then init swallows it and writes through the
 * NULL, an Oops in init that must cost the sweep that point only.
 * Test-only: not an example of how to write a module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/slab.h>

#define SWEEPMOD_TABLE_LEN	64
#define SWEEPMOD_SCRATCH_SIZE	256

struct sweepmod_state {
	u32 *table;
	void *scratch;
};

static struct sweepmod_state *sweepmod;

static bool swallow;
module_param(swallow, bool, 0444);
MODULE_PARM_DESC(swallow, "Swallow the third allocation's failure and use its NULL pointer");

static int __init sweepmod_init(void)
{
	struct sweepmod_state *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->table = kcalloc(SWEEPMOD_TABLE_LEN, sizeof(*s->table), GFP_KERNEL);
	if (!s->table)
		return -ENOMEM; /* the seeded bug: s is not freed */
	s->scratch = kmalloc(SWEEPMOD_SCRATCH_SIZE, GFP_KERNEL);
	if (!s->scratch && !swallow) {
		kfree(s->table);
		kfree(s);
		return -ENOMEM;
	}
	/* A store, not memset: KASAN's memset returns on a bad address. */
	*(u32 *)s->scratch = SWEEPMOD_TABLE_LEN;
	sweepmod = s;
	pr_info("loaded\n");
	return 0;
}

static void __exit sweepmod_exit(void)
{
	kfree(sweepmod->scratch);
	kfree(sweepmod->table);
	kfree(sweepmod);
}

module_init(sweepmod_init);
module_exit(sweepmod_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodvm test module: an init with a wrong error path");
