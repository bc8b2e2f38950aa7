//go:build ppc64 || ppc64le || mips || mipsle || mips64 || mips64le

package mmapdrv

// POWER's and MIPS's layout (arch/powerpc/include/uapi/asm/ioctl.h, the
// same values in arch/mips's): 13 size bits, then 3 direction bits, one
// each, none of them set being invalid.
const (
	iocSizeBits = 13

	iocNone  = 1
	iocRead  = 2
	iocWrite = 4
)
