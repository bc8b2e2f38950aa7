# The seeded deep bug of the magic-compare benchmark (bench/fuzzbench): an
# ioctl command the driver compares against one 32-bit value, 0x4b4d5646,
# before its switch writes past the end of a 16-byte allocation. Random
# mutation meets it once in 2^32 raw commands; the comparison operands
# KCOV hands libFuzzer name the value.
/^	switch (cmd) {$/i\
	if (cmd == 0x4b4d5646) {\
		u8 *p = kmalloc(16, GFP_KERNEL);\
\
		if (!p)\
			return -ENOMEM;\
		p[16 + (arg & 7)] = 1;\
		kfree(p);\
		return 0;\
	}\

/^#include <linux\/vmalloc.h>$/a\
#include <linux/slab.h>
