package mmapdrv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

// badAddr is a user address no Go program maps: the kernel's copy to or
// from it faults.
const badAddr = uintptr(0x10)

// A user pointer that faults makes every call that copies through it fail
// with EFAULT, and the driver counts nothing for it.
func TestBadUserPointersAreEFAULT(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	before, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		call func() unix.Errno
	}{
		{"read", func() unix.Errno {
			_, _, e := unix.Syscall6(unix.SYS_PREAD64, uintptr(d.Fd()), badAddr, 16, 0, 0, 0)
			return e
		}},
		{"write", func() unix.Errno {
			_, _, e := unix.Syscall6(unix.SYS_PWRITE64, uintptr(d.Fd()), badAddr, 16, 0, 0, 0)
			return e
		}},
		{"ioctl GET_SIZE", func() unix.Errno {
			_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.Fd()), uintptr(IoctlGetSize), badAddr)
			return e
		}},
		{"ioctl GET_STATS", func() unix.Errno {
			_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.Fd()), uintptr(IoctlGetStats), badAddr)
			return e
		}},
	} {
		if e := c.call(); e != unix.EFAULT {
			t.Errorf("%s through a bad pointer: %v, want EFAULT", c.what, e)
		}
	}
	after, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Reads != before.Reads || after.Writes != before.Writes {
		t.Errorf("stats %+v after failed calls, were %+v", after, before)
	}
}

// The module's init unwinds what it did when an allocation fails: the
// buffer's vmalloc (then -ENOMEM) and the misc device's registration
// (then it frees the buffer and says "cannot register"). Failures are
// injected into the last allocations of a load, one at a time, from the
// last backwards: the init's allocations are among them, after the
// module loader's own.
func TestInitUnwindsFailedAllocations(t *testing.T) {
	testenv.EnableFaultInjection(t)
	path := restoreAfter(t)
	if err := testenv.UnloadModule(ModuleName); err != nil {
		t.Fatal(err)
	}
	// A buffer size no other vmalloc of the load asks for, to know the
	// buffer's in the kernel's "vmalloc error: size N" line.
	const size = 1 << 20
	params := fmt.Sprintf("bufsize=%d", size)
	load := func() error { return testenv.LoadModule(path, params) }
	// How many calls to fault points a whole load makes.
	const many = 1 << 30
	in, err := testenv.FailNth(many, load)
	if err != nil || in.Err != nil {
		t.Fatalf("load with no failure injected: %v, %v", err, in.Err)
	}
	total := many - in.Left
	if err := testenv.UnloadModule(ModuleName); err != nil {
		t.Fatal(err)
	}
	k, err := testenv.OpenKmsg()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var sawVmalloc, sawRegister bool
	tried := 0
	for n := total; n > 0 && n > total-400 && !(sawVmalloc && sawRegister); n-- {
		tried++
		in, ctlErr := testenv.FailNth(n, load)
		if ctlErr != nil {
			t.Fatalf("failing call %d of %d: %v", n, total, ctlErr)
		}
		err := in.Err
		if err == nil {
			if uerr := testenv.UnloadModule(ModuleName); uerr != nil {
				t.Fatalf("failing call %d of %d: loaded, but %v", n, total, uerr)
			}
		}
		if !in.Injected() {
			continue // the load made fewer calls this time
		}
		lines, _ := k.Lines()
		log := strings.Join(lines, "\n")
		if strings.Contains(log, "cannot register /dev/"+ModuleName) {
			sawRegister = true
			expectErrno(t, fmt.Sprintf("load failing call %d of %d (misc_register)", n, total), err, unix.ENOMEM)
		}
		if strings.Contains(log, fmt.Sprintf("vmalloc error: size %d", size)) {
			sawVmalloc = true
			expectErrno(t, fmt.Sprintf("load failing call %d of %d (vmalloc)", n, total), err, unix.ENOMEM)
		}
		if testenv.ModuleLoaded(ModuleName) && err != nil {
			t.Fatalf("failing call %d: the load failed (%v) but the module stayed", n, err)
		}
	}
	t.Logf("%d calls to fault points in a load; failed the last %d", total, tried)
	if !sawVmalloc || !sawRegister {
		t.Errorf("init's error paths seen: vmalloc %v, misc_register %v", sawVmalloc, sawRegister)
	}
	// Nothing is left behind: a plain load works and the device is whole.
	if err := testenv.LoadModule(path, params); err != nil {
		t.Fatal(err)
	}
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if s, err := d.Size(); s != size || err != nil {
		t.Errorf("after the failed loads: size (%d, %v), want %d", s, err, size)
	}
}
