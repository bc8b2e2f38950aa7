package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/failnth"
	"golang.org/x/sys/unix"
)

// FailNthPath is the kernel's per-thread systematic fault injection
// (Documentation/fault-injection/fault-injection.rst): writing N makes the
// N-th injectable call of the writing thread fail (an allocation, or a
// user copy where CONFIG_FAULT_INJECTION_USERCOPY is built); reading it
// gives how many calls were still to go, 0 once the failure was injected.
const FailNthPath = failnth.Path

// scopedFaults reports whether failures are being injected at random
// (kmodvm run --scoped-faults sets failslab's probability while the
// tests run; fail-nth and FailEach leave it 0).
func scopedFaults() bool {
	b, err := os.ReadFile(failnth.DebugFS + "/failslab/probability")
	return err == nil && len(b) > 0 && b[0] != '0'
}

// faultSettings counts the tests of this process that need syzkaller's
// settings (failnth.Knobs, nothing logged per failure) set: the first
// sets them, the last to end restores them, so that tests running in
// parallel do not restore the knobs under each other.
var faultSettings struct {
	sync.Mutex
	users   int
	restore func() error
	noted   bool // the kernel's missing knobs were logged
}

// EnableFaultInjection prepares the kernel for FailNth until t ends: it
// sets syzkaller's fault-injection settings (those of them the kernel
// has) and restores them after. It skips t outside a kmodvm guest and on
// kernels without fail-nth, naming the -debug kernels, which have it,
// and while the run's --scoped-faults hold the kernel's failures.
func EnableFaultInjection(t testing.TB) {
	t.Helper()
	SkipIfNotVM(t)
	if _, err := os.Stat(FailNthPath); err != nil {
		t.Skipf("no %s: the kernel has no fault injection (CONFIG_FAULT_INJECTION, with CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_DEBUG_FS); the -debug kernels have it: kmodvm run -k 6.1-debug", FailNthPath)
	}
	if scopedFaults() {
		t.Skip("the run's --scoped-faults fail the module's calls at random and hold every injected failure, fail-nth's too, to the module's code: a test that injects failures of its own cannot count them (run it without --scoped-faults)")
	}
	faultSettings.Lock()
	defer faultSettings.Unlock()
	if faultSettings.users == 0 {
		knobs := failnth.Knobs(0)
		restore, missing, err := failnth.Apply(failnth.DebugFS, knobs)
		if err != nil {
			t.Fatal(err)
		}
		if note := failnth.MissingNote(knobs, missing); note != "" && !faultSettings.noted {
			t.Log(note)
			faultSettings.noted = true
		}
		faultSettings.restore = restore
	}
	faultSettings.users++
	t.Cleanup(func() {
		faultSettings.Lock()
		defer faultSettings.Unlock()
		faultSettings.users--
		if faultSettings.users == 0 {
			if err := faultSettings.restore(); err != nil {
				t.Errorf("restore fault injection settings: %v", err)
			}
		}
	})
}

// Injection is what one run of an operation with its N-th injectable
// call failing gave: whether the failure was injected (Injected), and the
// operation's own error.
type Injection = failnth.Injection

// FailNth runs op with the n-th injectable call of its thread failing,
// and reads back whether the failure was injected. The goroutine is locked
// to its thread from the arming to the read back, so op must make its
// system calls on the calling goroutine. The window is kept to op alone:
// the control file is opened, and the buffers for arming and reading it
// back are made and written, before arming; the arming, the read back
// and the disarming are single pwrite/pread calls on it. What op does
// beyond its system call is its own business: a Go allocation that maps
// memory, or a first touch of a page, counts as an injectable call too
// (see FailEach). The fault injection must be enabled
// (EnableFaultInjection); the error is about the control file only.
func FailNth(n int, op func() error) (Injection, error) {
	if n < 1 {
		return Injection{N: n}, fmt.Errorf("fail-nth=%d: calls count from 1", n)
	}
	awaitRead(1, outputReadWait)
	return failnth.Run(n, op)
}

// outputReadWait bounds FailNth's wait for its output to be read.
const outputReadWait = time.Second

// awaitRead waits, up to limit, until the reader of the pipe fd writes
// to has read all of it. FailNth waits so for the test binary's standard
// output: the kmodvm agent reads it through a pipe and stamps each test
// with the time it read the test's "=== RUN" line, and the kernel's
// report of an injected failure is placed in the test running at the
// report's time, so the line must be read before the failure is armed.
// If fd is no pipe (a terminal, a file) there is nothing to wait for.
func awaitRead(fd int, limit time.Duration) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	deadline := time.Now().Add(limit)
	for {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD: bytes not yet read
		if err != nil || n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
