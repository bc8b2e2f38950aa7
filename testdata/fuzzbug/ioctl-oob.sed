# The seeded shallow bug kmodvm fuzz finds: an ioctl command the uapi
# header does not name, _IO(MMAPDRV_IOC_MAGIC, 0x2a), writes past the end of
# a 16-byte allocation, which KASAN reports as a slab-out-of-bounds write.
/^	default:$/i\
	case _IO(MMAPDRV_IOC_MAGIC, 0x2a): {\
		u8 *p = kmalloc(16, GFP_KERNEL);\
\
		if (!p)\
			return -ENOMEM;\
		p[16 + (arg & 7)] = 1;\
		kfree(p);\
		return 0;\
	}
/^#include <linux\/vmalloc.h>$/a\
#include <linux/slab.h>
