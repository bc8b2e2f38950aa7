# The seeded bug that ends the kernel (the ring of last inputs' test,
# vmtest/fuzzpanic_test.go): an ioctl command the uapi header does not
# name, _IO(MMAPDRV_IOC_MAGIC, 0x2a), panics, so the harness's glue never
# reads the kernel's report and the host must find the input among the
# last ones the glue's ring kept.
/^	default:$/i\
	case _IO(MMAPDRV_IOC_MAGIC, 0x2a):\
		panic("kmodvm-fuzzbug: seeded panic");
