/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmapdrv's range and size checks: pure functions of their arguments, kept
 * out of mmapdrv.c so that its KUnit suite (kunit/mmapdrv_kunit.c, a test
 * module of its own) tests the very code the driver runs.
 */
#ifndef MMAPDRV_CHECKS_H
#define MMAPDRV_CHECKS_H

#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/types.h>

#include "include/uapi/linux/mmapdrv.h"

/* Whether the bufsize module parameter is usable: 1 to 64 MiB. */
static inline bool mmapdrv_bufsize_ok(unsigned int bufsize)
{
	return bufsize && bufsize <= MMAPDRV_MAX_BUFSIZE;
}

/*
 * Whether a mapping of @pages pages from page @pgoff lies inside a buffer of
 * @npages pages. @pgoff is checked first so that the subtraction cannot
 * wrap.
 */
static inline bool mmapdrv_mmap_fits(unsigned long pgoff, unsigned long pages,
				     unsigned long npages)
{
	return pgoff < npages && pages <= npages - pgoff;
}

/*
 * How many of @count bytes a write at @pos into a buffer of @size bytes
 * copies, or -EINVAL for a negative position and -ENOSPC at or past the
 * end: a full device says so, like a full disk, where 0 would make a writer
 * looping until done spin forever.
 */
static inline ssize_t mmapdrv_write_len(loff_t pos, size_t count, size_t size)
{
	if (pos < 0)
		return -EINVAL;
	if (!count)
		return 0;
	if (pos >= size)
		return -ENOSPC;
	return min_t(size_t, count, size - pos);
}

#endif /* MMAPDRV_CHECKS_H */
