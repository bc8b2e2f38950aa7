/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * faultmod user API: ioctl numbers of /dev/faultmod.
 *
 * faultmod is a test-only module that makes the kernel fail on demand so
 * that kmodvm's fault handling can be tested against real kernel output.
 * Shared by the module and by user space (C, or Go through the numbers
 * listed in README.md).
 */
#ifndef _UAPI_FAULTMOD_H
#define _UAPI_FAULTMOD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define FAULTMOD_MAGIC 'F'

/* Argument of FAULTMOD_USERCOPY and FAULTMOD_COPY_OVERFLOW: copy len bytes
 * of a 16-byte object to addr. */
struct faultmod_copy {
	__u64 addr;
	__u64 len;
};

#define FAULTMOD_WARN		_IO(FAULTMOD_MAGIC, 1)
#define FAULTMOD_OOPS		_IO(FAULTMOD_MAGIC, 2)
#define FAULTMOD_BUG		_IO(FAULTMOD_MAGIC, 3)
#define FAULTMOD_PANIC		_IO(FAULTMOD_MAGIC, 4)
#define FAULTMOD_HANG_READ	_IO(FAULTMOD_MAGIC, 5)
#define FAULTMOD_RELEASE	_IO(FAULTMOD_MAGIC, 6)
#define FAULTMOD_SOFTLOCKUP	_IO(FAULTMOD_MAGIC, 7)	/* arg: seconds, 0 = 30 */
#define FAULTMOD_ATOMIC_SLEEP	_IO(FAULTMOD_MAGIC, 8)
#define FAULTMOD_LEAK		_IO(FAULTMOD_MAGIC, 9)
#define FAULTMOD_USERCOPY	_IOW(FAULTMOD_MAGIC, 10, struct faultmod_copy)
#define FAULTMOD_GPF		_IO(FAULTMOD_MAGIC, 11)
#define FAULTMOD_LIST_CORRUPT	_IO(FAULTMOD_MAGIC, 12)
#define FAULTMOD_REFCOUNT	_IO(FAULTMOD_MAGIC, 13)
#define FAULTMOD_COPY_OVERFLOW	_IOW(FAULTMOD_MAGIC, 14, struct faultmod_copy)
#define FAULTMOD_RCU_STALL	_IO(FAULTMOD_MAGIC, 15)	/* arg: seconds, 0 = 30 */

#endif /* _UAPI_FAULTMOD_H */
