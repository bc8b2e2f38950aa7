/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sanmod user API: ioctl numbers of /dev/sanmod.
 *
 * sanmod is a test-only module with one deliberate bug per ioctl, each of
 * the kind a sanitizer (KASAN, kmemleak, lockdep, DEBUG_ATOMIC_SLEEP,
 * KCSAN, UBSAN) finds and a stock kernel may not.
 */
#ifndef _UAPI_SANMOD_H
#define _UAPI_SANMOD_H

#include <linux/ioctl.h>

#define SANMOD_MAGIC 'S'

#define SANMOD_HEAP_OOB		_IO(SANMOD_MAGIC, 1)	/* arg: index, 24 */
#define SANMOD_UAF		_IO(SANMOD_MAGIC, 2)
#define SANMOD_VMALLOC_OOB	_IO(SANMOD_MAGIC, 3)	/* arg: index, 1000 */
#define SANMOD_LEAK_AT_UNLOAD	_IO(SANMOD_MAGIC, 4)
#define SANMOD_LOCK_AB		_IO(SANMOD_MAGIC, 5)
#define SANMOD_LOCK_BA		_IO(SANMOD_MAGIC, 6)
#define SANMOD_SLEEP_ATOMIC	_IO(SANMOD_MAGIC, 7)
#define SANMOD_RACE		_IO(SANMOD_MAGIC, 8)	/* arg: milliseconds, 0 = 2000 */
#define SANMOD_ARRAY_OOB	_IO(SANMOD_MAGIC, 9)	/* arg: index, 4 */

#endif /* _UAPI_SANMOD_H */
