package agent

import (
	"os"
	"runtime"
	"unsafe"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

// The module calls of a fault-injection point, made bare: their
// arguments converted and their buffers written before the failure is
// armed, since anything else the thread does while armed (a Go
// allocation that maps memory, a first touch of a page) meets it too.

// loadCall returns m's load as one system call: finit_module on the
// opened file, or init_module on the image decompressed beforehand.
func (l *loader) loadCall(m event.Module) (call func() error, done func(), err error) {
	params, err := unix.BytePtrFromString(m.Params)
	if err != nil {
		return nil, nil, err
	}
	if isCompressed(m.Path) {
		f, err := os.Open(m.Path)
		if err != nil {
			return nil, nil, err
		}
		image, err := decompress(f, m.Path)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		return func() error {
			_, _, e := unix.Syscall(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&image[0])), uintptr(len(image)),
				uintptr(unsafe.Pointer(params)))
			runtime.KeepAlive(image)
			return errnoErr(e)
		}, func() {}, nil
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return nil, nil, err
	}
	fd := f.Fd()
	return func() error {
		_, _, e := unix.Syscall(unix.SYS_FINIT_MODULE, fd, uintptr(unsafe.Pointer(params)), 0)
		return errnoErr(e)
	}, func() { f.Close() }, nil
}

// deleteModuleCall returns module name's unload as one system call,
// without waiting for users to go (O_NONBLOCK).
func deleteModuleCall(name string) (call func() error, done func(), err error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return nil, nil, err
	}
	return func() error {
		_, _, e := unix.Syscall(unix.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(p)), unix.O_NONBLOCK, 0)
		return errnoErr(e)
	}, func() {}, nil
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
