# The seeded bug that kills only the harness: an ioctl command the uapi
# header does not name, _IO(MMAPDRV_IOC_MAGIC, 0x2a), hits BUG(), whose
# Oops kills the calling task while the kernel (without panic_on_oops)
# lives on, so the glue never prints the input and the VM ends by itself:
# the agent sends the glue's ring to the host.
/^	default:$/i\
	case _IO(MMAPDRV_IOC_MAGIC, 0x2a):\
		BUG();
