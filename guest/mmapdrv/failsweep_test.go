package mmapdrv

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

// Every call of the driver's operations that the kernel can make fail
// fails once, in turn (testenv.FailEach): the allocations of an open (the
// driver keeps no per-open state, so they are the VFS's and misc_open's)
// and of an mmap, and, on kernels with CONFIG_FAULT_INJECTION_USERCOPY,
// the user copies of read, write and the copying ioctls (elsewhere those
// sweeps are one point, with nothing injected). Each point must answer
// with the failure's errno or succeed whole, and leave the module's
// reference count as it found it; the kernel's sanitizers judge the error
// paths themselves.
func TestEachInjectedFailureIsHandled(t *testing.T) {
	testenv.SkipIfNotVM(t)
	for _, c := range []struct {
		name string
		op   func(t *testing.T, f *testenv.Fault)
	}{
		{"open", failOpen},
		{"mmap", failMmap},
		{"pread", failPread},
		{"pwrite", failPwrite},
		{"ioctl-get-size", failGetSize},
		{"ioctl-get-stats", failGetStats},
	} {
		t.Run(c.name, func(t *testing.T) {
			refs := refcnt(t)
			testenv.Sweep{Check: func(t *testing.T, f *testenv.Fault) {
				if n := refcnt(t); n != refs {
					t.Errorf("module references %d after the point, %d before: the call kept one", n, refs)
				}
			}}.Run(t, c.op)
		})
	}
}

// succeeded judges the error of a call made under injection: none without
// a failure injected; with one, the errno of a failed allocation (ENOMEM)
// or user copy (EFAULT), whichever the call made, or none if the kernel
// absorbed the failure. It reports whether the call succeeded, for the
// caller to check what it did.
func succeeded(t *testing.T, f *testenv.Fault, what string, err error) bool {
	t.Helper()
	switch {
	case err == nil:
		return true
	case !f.Injected():
		t.Fatalf("%s with nothing injected: %v", what, err)
	default:
		expectErrno(t, fmt.Sprintf("%s failing call %d", what, f.N), err, unix.ENOMEM, unix.EFAULT)
	}
	return false
}

// sysErr is a raw system call's errno as an error.
func sysErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func failOpen(t *testing.T, f *testenv.Fault) {
	size := devSize(t, openDev(t, unix.O_RDONLY))
	path, err := unix.BytePtrFromString(DevicePath)
	if err != nil {
		t.Fatal(err)
	}
	dirfd := unix.AT_FDCWD
	var fd int
	err = f.Inject(func() error {
		r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), unix.O_RDWR|unix.O_CLOEXEC, 0, 0, 0)
		fd = int(r)
		return sysErr(e)
	})
	if !succeeded(t, f, "open", err) {
		return
	}
	d := &Device{fd: fd}
	t.Cleanup(func() { d.Close() })
	if got := devSize(t, d); got != size {
		t.Errorf("the opened device's size is %d, want %d", got, size)
	}
}

func failMmap(t *testing.T, f *testenv.Fault) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	want := pattern(61, size)
	fill(t, d, want)
	length := uintptr(pageAlign(size))
	var addr unsafe.Pointer
	err := f.Inject(func() (err error) {
		addr, err = unix.MmapPtr(d.Fd(), 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		return err
	})
	if !succeeded(t, f, "mmap", err) {
		return
	}
	t.Cleanup(func() { unix.MunmapPtr(addr, length) })
	if got := unsafe.Slice((*byte)(addr), size); !bytes.Equal(got, want) {
		t.Errorf("the mapping differs from the buffer: %s", firstDiff(got, want))
	}
}

func failPread(t *testing.T, f *testenv.Fault) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	want := pattern(62, size)
	fill(t, d, want)
	// Written, so that the copy to it faults in no page.
	got := bytes.Repeat([]byte{0xa5}, int(size))
	var n int
	err := f.Inject(func() (err error) {
		n, err = unix.Pread(d.Fd(), got, 0)
		return err
	})
	if !succeeded(t, f, "pread", err) {
		return
	}
	if n != int(size) || !bytes.Equal(got, want) {
		t.Errorf("pread gave %d of %d bytes: %s", n, size, firstDiff(got, want))
	}
}

func failPwrite(t *testing.T, f *testenv.Fault) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	fill(t, d, pattern(63, size))
	p := pattern(64, size)
	var n int
	err := f.Inject(func() (err error) {
		n, err = unix.Pwrite(d.Fd(), p, 0)
		return err
	})
	if !succeeded(t, f, "pwrite", err) {
		return
	}
	if got := contents(t, d); n != int(size) || !bytes.Equal(got, p) {
		t.Errorf("pwrite stored %d of %d bytes: %s", n, size, firstDiff(got, p))
	}
}

func failGetSize(t *testing.T, f *testenv.Fault) {
	d := openDev(t, unix.O_RDONLY)
	want := devSize(t, d)
	got := new(uint64)
	*got = ^uint64(0) // written, so that the copy to it faults in no page
	err := f.Inject(func() error { return d.Ioctl(IoctlGetSize, unsafe.Pointer(got)) })
	if succeeded(t, f, "ioctl GET_SIZE", err) && *got != uint64(want) {
		t.Errorf("GET_SIZE gave %d, want %d", *got, want)
	}
}

func failGetStats(t *testing.T, f *testenv.Fault) {
	d := openDev(t, unix.O_RDONLY)
	want, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	got := new(Stats)
	all := ^uint64(0)
	*got = Stats{all, all, all, all, all} // written, so that the copy to it faults in no page
	err = f.Inject(func() error { return d.Ioctl(IoctlGetStats, unsafe.Pointer(got)) })
	// GET_STATS counts nothing of its own: the counters are as before.
	if succeeded(t, f, "ioctl GET_STATS", err) && *got != want {
		t.Errorf("GET_STATS gave %+v, want %+v", *got, want)
	}
}
