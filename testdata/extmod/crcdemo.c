// SPDX-License-Identifier: GPL-2.0
/*
 * crcdemo: a module from "outside" kmodvm that needs an in-kernel module
 * (crc-itu-t). At load it checksums a fixed message and exposes the result
 * as a read-only parameter, which its Go tests check in the guest.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc-itu-t.h>
#include <linux/init.h>
#include <linux/module.h>

static const char message[] = "123456789";

static ushort checksum;
module_param(checksum, ushort, 0444);
MODULE_PARM_DESC(checksum, "CRC-ITU-T of \"123456789\", computed at load");

static ushort seed;
module_param(seed, ushort, 0444);
MODULE_PARM_DESC(seed, "initial CRC value");

static int __init crcdemo_init(void)
{
	checksum = crc_itu_t(seed, (const u8 *)message, sizeof(message) - 1);
	pr_info("crc_itu_t(%#06x, \"%s\") = %#06x\n", seed, message, checksum);
	return 0;
}

static void __exit crcdemo_exit(void)
{
}

module_init(crcdemo_init);
module_exit(crcdemo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodvm example: a module that depends on crc-itu-t");
