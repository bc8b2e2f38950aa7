// SPDX-License-Identifier: GPL-2.0
/*
 * newapi: a module that uses an API only newer kernels have, for kmodvm's
 * host-fault tests. strscpy() takes two arguments since v6.8 (the size of an
 * array destination comes from its type); on older kernels, where it takes
 * three, the build fails with "too few arguments to function 'strscpy'".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/string.h>

static char newapi_name[16];

static int __init newapi_init(void)
{
	if (strscpy(newapi_name, KBUILD_MODNAME) < 0)
		return -E2BIG;
	pr_info("loaded as %s\n", newapi_name);
	return 0;
}

static void __exit newapi_exit(void)
{
	pr_info("unloaded\n");
}

module_init(newapi_init);
module_exit(newapi_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodvm test fixture: builds only on kernels with 2-argument strscpy()");
