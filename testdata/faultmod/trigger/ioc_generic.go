//go:build !(ppc64 || ppc64le || mips || mipsle || mips64 || mips64le)

package main

// The generic _IOC layout (include/uapi/asm-generic/ioctl.h): the
// direction in bits 30-31.
const (
	iocDirShift = 30
	iocNone     = 0
	iocWrite    = 1
)
