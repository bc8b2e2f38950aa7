// SPDX-License-Identifier: GPL-2.0
/* A module that builds with one warning, for kbuild's tests. */
#include <linux/init.h>
#include <linux/module.h>

static int __init warnmod_init(void)
{
	int unused;

	return 0;
}

static void __exit warnmod_exit(void)
{
}

module_init(warnmod_init);
module_exit(warnmod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodvm test: builds with one warning");
