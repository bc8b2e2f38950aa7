// SPDX-License-Identifier: GPL-2.0
/*
 * leftmod - a module whose init leaves its class registered when a later
 * allocation fails, for kmodvm's fault-injection sweep (kmodvm run
 * --inject-faults).
 *
 * The point that fails the allocation after class_create() leaves
 * /sys/class/leftmod behind, with the class's name pointing into the
 * module's freed memory, and every later load of the module fails to
 * register it again. The sweep must name what was left at that point.
 * Test-only: not an example of how to write a module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/version.h>

static struct class *leftmod_class;
static void *leftmod_buf;

static int __init leftmod_init(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	leftmod_class = class_create("leftmod");
#else
	leftmod_class = class_create(THIS_MODULE, "leftmod");
#endif
	if (IS_ERR(leftmod_class))
		return PTR_ERR(leftmod_class);
	leftmod_buf = kzalloc(64, GFP_KERNEL);
	if (!leftmod_buf)
		return -ENOMEM; /* the seeded bug: the class is not destroyed */
	return 0;
}

static void __exit leftmod_exit(void)
{
	kfree(leftmod_buf);
	class_destroy(leftmod_class);
}

module_init(leftmod_init);
module_exit(leftmod_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodvm test module: an init that leaves its class behind");
