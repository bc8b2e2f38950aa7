// SPDX-License-Identifier: GPL-2.0
/* A module that does not compile, for kbuild's tests. */
#include <linux/init.h>
#include <linux/module.h>

static int __init errmod_init(void)
{
	return no_such_function(42);
}

module_init(errmod_init);
MODULE_LICENSE("GPL");
