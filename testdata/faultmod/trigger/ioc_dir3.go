//go:build ppc64 || ppc64le || mips || mipsle || mips64 || mips64le

package main

// POWER's and MIPS's _IOC layout (arch/powerpc/include/uapi/asm/ioctl.h):
// 13 size bits, the direction in bits 29-31, none being 1.
const (
	iocDirShift = 29
	iocNone     = 1
	iocWrite    = 4
)
