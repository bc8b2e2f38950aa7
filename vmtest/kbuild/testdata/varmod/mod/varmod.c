// SPDX-License-Identifier: GPL-2.0
/* A module whose Kbuild needs a make variable (kbuild's MakeArgs test). */
#include <linux/init.h>
#include <linux/module.h>

static int __init varmod_init(void)
{
	return 0;
}

static void __exit varmod_exit(void)
{
}

module_init(varmod_init);
module_exit(varmod_exit);

MODULE_DESCRIPTION("kmodvm test module built with a make variable");
MODULE_LICENSE("GPL");
