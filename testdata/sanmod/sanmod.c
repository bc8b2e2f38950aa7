// SPDX-License-Identifier: GPL-2.0
/*
 * sanmod - deliberate bugs for the kernel's sanitizers, for testing kmodvm.
 *
 * Each ioctl of /dev/sanmod commits one bug that a debug kernel reports
 * (KASAN, kmemleak, lockdep, DEBUG_ATOMIC_SLEEP, KCSAN, UBSAN) and that a
 * stock kernel survives: every out-of-bounds access stays inside memory the
 * module owns, so that the same tests show on a stock kernel which bugs go
 * unseen there. Indexes come from the caller so that the compiler can
 * neither warn about nor fold away the bad access. Test-only: not an
 * example of a driver.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "sanmod.h"

/*
 * KASAN poisons a kmalloc object past the size asked for: 24 bytes come
 * from kmalloc-32, so writing byte 24 is out of bounds for KASAN but lands
 * in the object's own slack on a stock kernel.
 */
#define SANMOD_HEAP_SIZE	24
#define SANMOD_HEAP_SLAB	32
/* KASAN_VMALLOC poisons the rest of the page after the size asked for. */
#define SANMOD_VMALLOC_SIZE	1000
#define SANMOD_LEAK_SIZE	1024
#define SANMOD_RACE_DEFAULT_MS	2000
#define SANMOD_RACE_MAX_MS	60000

static DEFINE_MUTEX(sanmod_lock_a);
static DEFINE_MUTEX(sanmod_lock_b);
static DEFINE_SPINLOCK(sanmod_spin);

/* Freed memory, reached through a global the compiler cannot see through. */
static char *sanmod_freed;

/* Kept until unload, where SANMOD_LEAK_AT_UNLOAD makes exit forget it. */
static void *sanmod_leaky;
static bool sanmod_leak;

/* Written by two threads without a lock: the data race. */
static int sanmod_racy;

/* UBSAN checks the index of a; reading a[4] reads b, in bounds for KASAN. */
static struct {
	int a[4];
	int b;
} sanmod_array = { .a = { 1, 2, 3, 4 }, .b = 5 };

static long sanmod_heap_oob(unsigned long idx)
{
	char *p = kmalloc(SANMOD_HEAP_SIZE, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	/* Not ksize(): it would unpoison the slack for KASAN. */
	if (idx < SANMOD_HEAP_SLAB)
		p[idx] = 'x';
	kfree(p);
	return 0;
}

static long sanmod_uaf(void)
{
	char *p = kmalloc(SANMOD_HEAP_SIZE, GFP_KERNEL);
	char c;

	if (!p)
		return -ENOMEM;
	p[0] = 'x';
	WRITE_ONCE(sanmod_freed, p);
	kfree(p);
	c = READ_ONCE(*READ_ONCE(sanmod_freed));
	return c == 'x';
}

static long sanmod_vmalloc_oob(unsigned long idx)
{
	char *p = vmalloc(SANMOD_VMALLOC_SIZE);

	if (!p)
		return -ENOMEM;
	if (idx < PAGE_SIZE)
		p[idx] = 'x';
	vfree(p);
	return 0;
}

static long sanmod_leak_at_unload(void)
{
	if (!sanmod_leaky)
		sanmod_leaky = kmalloc(SANMOD_LEAK_SIZE, GFP_KERNEL);
	if (!sanmod_leaky)
		return -ENOMEM;
	sanmod_leak = true;
	return 0;
}

/* Taking a then b here and b then a below is the ABBA inversion. */
static long sanmod_lock_ab(void)
{
	mutex_lock(&sanmod_lock_a);
	mutex_lock(&sanmod_lock_b);
	mutex_unlock(&sanmod_lock_b);
	mutex_unlock(&sanmod_lock_a);
	return 0;
}

static long sanmod_lock_ba(void)
{
	mutex_lock(&sanmod_lock_b);
	mutex_lock(&sanmod_lock_a);
	mutex_unlock(&sanmod_lock_a);
	mutex_unlock(&sanmod_lock_b);
	return 0;
}

static long sanmod_sleep_atomic(void)
{
	spin_lock(&sanmod_spin);
	msleep(1);
	spin_unlock(&sanmod_spin);
	return 0;
}

struct sanmod_racer {
	unsigned long end;	/* jiffies */
	struct completion done;
};

static int sanmod_race_fn(void *data)
{
	struct sanmod_racer *r = data;

	while (time_before(jiffies, r->end)) {
		sanmod_racy++;
		cond_resched();
	}
	complete(&r->done);
	return 0;
}

/*
 * KCSAN samples accesses, so the two threads race for a while: the longer,
 * the likelier a report.
 */
static long sanmod_race(unsigned long ms)
{
	struct sanmod_racer r[2];
	struct task_struct *t;
	int i, started = 0;

	if (ms == 0)
		ms = SANMOD_RACE_DEFAULT_MS;
	ms = min_t(unsigned long, ms, SANMOD_RACE_MAX_MS);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		r[i].end = jiffies + msecs_to_jiffies(ms);
		init_completion(&r[i].done);
		t = kthread_run(sanmod_race_fn, &r[i], "sanmod_race/%d", i);
		if (IS_ERR(t))
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		wait_for_completion(&r[i].done);
	return started == ARRAY_SIZE(r) ? 0 : -EAGAIN;
}

static long sanmod_array_oob(unsigned long idx)
{
	if (idx > ARRAY_SIZE(sanmod_array.a))
		return -EINVAL;
	/*
	 * A plain read: READ_ONCE() would take &a[idx], which is legal one
	 * past the end, and UBSAN's bounds check would not see the index.
	 */
	return sanmod_array.a[idx];
}

static long sanmod_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case SANMOD_HEAP_OOB:
		return sanmod_heap_oob(arg);
	case SANMOD_UAF:
		return sanmod_uaf();
	case SANMOD_VMALLOC_OOB:
		return sanmod_vmalloc_oob(arg);
	case SANMOD_LEAK_AT_UNLOAD:
		return sanmod_leak_at_unload();
	case SANMOD_LOCK_AB:
		return sanmod_lock_ab();
	case SANMOD_LOCK_BA:
		return sanmod_lock_ba();
	case SANMOD_SLEEP_ATOMIC:
		return sanmod_sleep_atomic();
	case SANMOD_RACE:
		return sanmod_race(arg);
	case SANMOD_ARRAY_OOB:
		return sanmod_array_oob(arg);
	}
	return -ENOTTY;
}

static const struct file_operations sanmod_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= sanmod_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice sanmod_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "sanmod",
	.fops	= &sanmod_fops,
	.mode	= 0600,
};

static int __init sanmod_init(void)
{
	return misc_register(&sanmod_dev);
}

static void __exit sanmod_exit(void)
{
	misc_deregister(&sanmod_dev);
	if (!sanmod_leak)
		kfree(sanmod_leaky);
}

module_init(sanmod_init);
module_exit(sanmod_exit);

MODULE_DESCRIPTION("Test-only module with deliberate bugs for the kernel's sanitizers");
MODULE_AUTHOR("kmodvm authors");
MODULE_LICENSE("GPL");
