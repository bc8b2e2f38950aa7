package mmapdrv

import "unsafe"

// The _IOC layout: nr in bits 0-7, type in 8-15, then the size and the
// direction, whose widths and values are the architecture's (ioctl_*.go).
// Computed here rather than taken from cgo so that guest binaries stay
// static; TestIoctlNumbersMatchCHeader pins them to what the C header yields.
const (
	iocNRBits   = 8
	iocTypeBits = 8

	iocNRShift   = 0
	iocTypeShift = iocNRShift + iocNRBits
	iocSizeShift = iocTypeShift + iocTypeBits
	iocDirShift  = iocSizeShift + iocSizeBits
)

// Magic is the driver's ioctl type byte (MMAPDRV_IOC_MAGIC).
const Magic = 0xB9

// The driver's ioctl commands, as in include/uapi/linux/mmapdrv.h.
const (
	IoctlGetSize  uint32 = iocRead<<iocDirShift | 8<<iocSizeShift | Magic<<iocTypeShift | 1<<iocNRShift
	IoctlClear    uint32 = iocNone<<iocDirShift | Magic<<iocTypeShift | 2<<iocNRShift
	IoctlGetStats uint32 = iocRead<<iocDirShift | uint32(unsafe.Sizeof(Stats{}))<<iocSizeShift | Magic<<iocTypeShift | 3<<iocNRShift
)

// IoctlCmd is a decoded ioctl number.
type IoctlCmd struct {
	Dir  uint32 // iocNone, iocWrite, iocRead or both (user's point of view)
	Type uint32
	NR   uint32
	Size uint32
}

// Encode returns the ioctl number, as _IOC(dir, type, nr, size) does.
func (c IoctlCmd) Encode() uint32 {
	return c.Dir<<iocDirShift | c.Size<<iocSizeShift | c.Type<<iocTypeShift | c.NR<<iocNRShift
}

// DecodeIoctl splits an ioctl number into its fields.
func DecodeIoctl(cmd uint32) IoctlCmd {
	return IoctlCmd{
		Dir:  cmd >> iocDirShift,
		Type: cmd >> iocTypeShift & (1<<iocTypeBits - 1),
		NR:   cmd >> iocNRShift & (1<<iocNRBits - 1),
		Size: cmd >> iocSizeShift & (1<<iocSizeBits - 1),
	}
}
