package mmapdrv

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
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

// faultKnobs are the debugfs files of the kernel's slab fault injection
// (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS) and their settings for
// a test: GFP_KERNEL allocations may fail (by default only atomic ones
// do), and no log line or stack dump per injected failure.
var faultKnobs = []struct{ path, value string }{
	{"/sys/kernel/debug/failslab/ignore-gfp-wait", "N"},
	{"/sys/kernel/debug/failslab/verbose", "0"},
}

// failNth is the per-task systematic fault injection of
// Documentation/fault-injection: writing N makes the N-th call of this
// task to an armed fault point fail; reading gives how many calls were
// still to go (0: the failure was injected).
const failNth = "/proc/thread-self/fail-nth"

// injectFaults sets faultKnobs for the test and restores them after, or
// skips the test on a kernel without slab fault injection.
func injectFaults(t *testing.T) {
	t.Helper()
	testenv.SkipIfNotVM(t)
	for _, k := range append(faultKnobs, struct{ path, value string }{failNth, ""}) {
		if _, err := os.Stat(k.path); err != nil {
			t.Skipf("no %s: the kernel has no slab fault injection (CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS; the -debug kernels have it)", k.path)
		}
	}
	for _, k := range faultKnobs {
		old, err := os.ReadFile(k.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(k.path, []byte(k.value), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.WriteFile(k.path, []byte(strings.TrimSpace(string(old))), 0o644) })
	}
}

// loadFailingNth loads the module at path with params, failing the n-th
// call of this thread to a fault point (the goroutine is locked to the
// thread from the arming to the read back), and returns how many calls
// were still to go: 0 if the failure was injected. The control file is
// opened before arming, so that only the load's own calls count.
func loadFailingNth(path, params string, n int) (left int, loadErr, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f, err := os.OpenFile(failNth, os.O_RDWR, 0)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strconv.Itoa(n)), 0); err != nil {
		return 0, nil, err
	}
	loadErr = testenv.LoadModule(path, params)
	b := make([]byte, 32)
	m, rerr := f.ReadAt(b, 0)
	f.WriteAt([]byte("0"), 0)
	if m == 0 && rerr != nil {
		return 0, loadErr, rerr
	}
	left, err = strconv.Atoi(strings.TrimSpace(string(b[:m])))
	return left, loadErr, err
}

// The module's init unwinds what it did when an allocation fails: the
// buffer's vmalloc (then -ENOMEM) and the misc device's registration
// (then it frees the buffer and says "cannot register"). Failures are
// injected into the last allocations of a load, one at a time, from the
// last backwards: the init's allocations are among them, after the
// module loader's own.
func TestInitUnwindsFailedAllocations(t *testing.T) {
	path := restoreAfter(t)
	injectFaults(t)
	if err := testenv.UnloadModule(ModuleName); err != nil {
		t.Fatal(err)
	}
	// A buffer size no other vmalloc of the load asks for, to know the
	// buffer's in the kernel's "vmalloc error: size N" line.
	const size = 1 << 20
	params := fmt.Sprintf("bufsize=%d", size)
	// How many calls to fault points a whole load makes.
	const many = 1 << 30
	left, loadErr, err := loadFailingNth(path, params, many)
	if err != nil || loadErr != nil {
		t.Fatalf("load with no failure injected: %v, %v", err, loadErr)
	}
	total := many - left
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
		left, err, ctlErr := loadFailingNth(path, params, n)
		if ctlErr != nil {
			t.Fatalf("failing call %d of %d: %s: %v", n, total, failNth, ctlErr)
		}
		if err == nil {
			if uerr := testenv.UnloadModule(ModuleName); uerr != nil {
				t.Fatalf("failing call %d of %d: loaded, but %v", n, total, uerr)
			}
		}
		if left != 0 {
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
