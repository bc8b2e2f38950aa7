/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mmapdrv: a fixed-size kernel buffer exposed through /dev/mmapdrv.
 *
 * The buffer is a file of MMAPDRV_IOC_GET_SIZE bytes: read(), write(),
 * lseek() and mmap() all address the same memory. mmap() may cover whole
 * pages up to the page-rounded size; bytes of the last page past the size
 * are padding that read() and write() never reach.
 */
#ifndef _UAPI_LINUX_MMAPDRV_H
#define _UAPI_LINUX_MMAPDRV_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * 0xB9 is not claimed in Documentation/userspace-api/ioctl/ioctl-number.rst
 * (checked against the 7.3 table: 0xB8 is mshv and Marvell DPI, 0xBA is
 * liveupdate, nothing lists 0xB9), so commands here cannot be mistaken for
 * another driver's if sent to the wrong file descriptor.
 */
#define MMAPDRV_IOC_MAGIC	0xB9

/* Largest accepted bufsize module parameter: 64 MiB. */
#define MMAPDRV_MAX_BUFSIZE	(64U << 20)

/* Counters since the module was loaded; they only grow. */
struct mmapdrv_stats {
	__u64 reads;	/* read() calls that returned at least one byte */
	__u64 writes;	/* write() calls that stored at least one byte */
	__u64 mmaps;	/* successful mmap() calls */
	__u64 faults;	/* pages mapped in by the fault handler */
	__u64 clears;	/* MMAPDRV_IOC_CLEAR calls */
};

/* Size of the buffer in bytes (the bufsize module parameter). */
#define MMAPDRV_IOC_GET_SIZE	_IOR(MMAPDRV_IOC_MAGIC, 1, __u64)
/* Zero the whole buffer; needs a file descriptor opened for writing. */
#define MMAPDRV_IOC_CLEAR	_IO(MMAPDRV_IOC_MAGIC, 2)
/* Copy the counters out. */
#define MMAPDRV_IOC_GET_STATS	_IOR(MMAPDRV_IOC_MAGIC, 3, struct mmapdrv_stats)

#endif /* _UAPI_LINUX_MMAPDRV_H */
