//go:build !(ppc64 || ppc64le || mips || mipsle || mips64 || mips64le)

package mmapdrv

// The generic layout of include/uapi/asm-generic/ioctl.h (x86, Arm,
// s390x, RISC-V): 14 size bits, then 2 direction bits.
const (
	iocSizeBits = 14

	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
)
