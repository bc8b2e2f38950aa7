// SPDX-License-Identifier: GPL-2.0
/*
 * mmapdrv_fuzz: a libFuzzer harness for /dev/mmapdrv, for kmodvm fuzz.
 *
 * The input is a program: each operation is an opcode byte followed by its
 * arguments, taken from the input as far as it goes (missing bytes read as
 * zero). Every input starts on the same open file at offset 0, so inputs
 * do not depend on each other beyond the buffer's contents, which the
 * driver keeps across opens (as a file would). That file is opened once
 * and kept: an open and a close cost a debug kernel under TCG about a
 * fifth of an input's time (0.45 of 2.2 ms, measured), and the driver
 * keeps no per-open state. The open and release paths are fuzzed by the
 * reopen operation, whose file is closed at the input's end.
 *
 *   0 read    u16 count            read() into a scratch buffer
 *   1 write   u16 count, bytes     write() the next count input bytes
 *   2 llseek  u32 offset, u8 whence
 *   3 ioctl   u8 nr, u8 arg        the driver's command space: one of
 *                                  its commands, or _IO(magic, nr & 0x3f)
 *                                  when nr's top bit is set; arg is a
 *                                  pointer to a scratch buffer when its
 *                                  low bit is 0, else the number
 *   4 mmap    u8 pages, u8 pgoff, u8 flags
 *                                  map, touch each page, unmap
 *   5 reopen  u8 mode              read-only, write-only or both
 *   6 raw     u32 cmd, u64 arg     any ioctl command; arg as ioctl 3's
 *
 * Build and run: kmodvm fuzz --kernels 6.1-debug --module kmod
 *   --harness kmod/fuzz/mmapdrv_fuzz.c --duration 60s (docs/fuzzing.md).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../include/uapi/linux/mmapdrv.h"

#define DEVICE "/dev/mmapdrv"
#define PAGE 4096
/* Operations one input may run: bounds the time an input takes. */
#define MAX_OPS 32
#define NOPS 7

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++) {
		uint8_t b = 0;

		if (in->left) {
			b = *in->p++;
			in->left--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

/* scratch is what read(), write() and ioctl() pointers point at. */
static uint8_t scratch[1 << 16];

/* dev is the file every input starts on. */
static int dev = -1;

static void release(int fd)
{
	if (fd >= 0 && fd != dev)
		close(fd);
}

static int reopen(int fd, uint8_t mode)
{
	static const int modes[] = { O_RDONLY, O_WRONLY, O_RDWR };

	release(fd);
	return open(DEVICE, modes[mode % 3]);
}

static void do_mmap(int fd, struct input *in)
{
	size_t pages = take(in, 1) % 16 + 1;
	off_t pgoff = take(in, 1) % 16;
	int shared = take(in, 1) & 1;
	uint8_t *m = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			  shared ? MAP_SHARED : MAP_PRIVATE, fd, pgoff * PAGE);

	if (m == MAP_FAILED)
		return;
	for (size_t i = 0; i < pages; i++)
		m[i * PAGE] ^= 1;
	munmap(m, pages * PAGE);
}

static void do_ioctl(int fd, unsigned long cmd, struct input *in, int argbytes)
{
	uint64_t arg = take(in, argbytes);

	ioctl(fd, cmd, (arg & 1) ? (unsigned long)arg : (unsigned long)scratch);
}

static unsigned long driver_cmd(uint8_t nr)
{
	static const unsigned long cmds[] = {
		MMAPDRV_IOC_GET_SIZE, MMAPDRV_IOC_CLEAR, MMAPDRV_IOC_GET_STATS,
	};

	if (nr & 0x80)
		return _IO(MMAPDRV_IOC_MAGIC, nr & 0x3f);
	return cmds[nr % 3];
}

static void step(int fd, struct input *in)
{
	switch (take(in, 1) % NOPS) {
	case 0:
		(void)!read(fd, scratch, take(in, 2));
		break;
	case 1: {
		size_t n = take(in, 2);

		n = n < in->left ? n : in->left;
		(void)!write(fd, in->p, n);
		in->p += n;
		in->left -= n;
		break;
	}
	case 2: {
		off_t off = (int32_t)take(in, 4);

		lseek(fd, off, take(in, 1) % 5);
		break;
	}
	case 3:
		do_ioctl(fd, driver_cmd(take(in, 1)), in, 1);
		break;
	case 4:
		do_mmap(fd, in);
		break;
	case 6:
		do_ioctl(fd, (uint32_t)take(in, 4), in, 8);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	int fd;

	if (dev < 0)
		dev = open(DEVICE, O_RDWR);
	if (dev >= 0)
		lseek(dev, 0, SEEK_SET);
	fd = dev;

	for (int i = 0; i < MAX_OPS && in.left; i++) {
		if (in.p[0] % NOPS == 5) {
			take(&in, 1);
			fd = reopen(fd, take(&in, 1));
			continue;
		}
		if (fd >= 0)
			step(fd, &in);
		else
			take(&in, 1);
	}
	release(fd);
	return 0;
}
