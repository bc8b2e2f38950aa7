# The seeded portability bug: MMAPDRV_IOC_GET_SIZE stores the buffer's
# size through a pointer to a 32-bit integer where the ioctl's user ABI
# (_IOR(MMAPDRV_IOC_MAGIC, 1, __u64)) says a __u64: only the first four of
# the caller's eight bytes are written.
s|return put_user((__u64)drv->size, (__u64 __user \*)argp);|return put_user((u32)drv->size, (u32 __user *)argp);|
