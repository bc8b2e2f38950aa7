// SPDX-License-Identifier: GPL-2.0
/*
 * nopmod: a module that does nothing, for kmodvm's benchmark. Its load and
 * unload measure what kmodvm adds around a user's module.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init nopmod_init(void)
{
	return 0;
}

static void __exit nopmod_exit(void)
{
}

module_init(nopmod_init);
module_exit(nopmod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodvm benchmark: a module that does nothing");
