package testenv

import (
	"fmt"
	"testing"
)

// DefaultMaxPoints bounds a sweep whose Sweep.MaxPoints is 0: far more
// calls than one system call of a driver makes, few enough that an
// operation which never stops meeting injection points costs seconds.
const DefaultMaxPoints = 200

// FailEach sweeps the injectable calls of one operation: it runs op as a
// subtest "fail-nth=N" for N = 1, 2, ... with the N-th injectable call of
// the operation failing (an allocation, or a user copy on kernels with
// CONFIG_FAULT_INJECTION_USERCOPY), until a run meets no N-th call: that
// last subtest is the operation with nothing failed. It is Sweep{}.Run;
// see Sweep for the bound and a check after each point.
//
// op prepares the operation, runs it with f.Inject, and checks what it
// answered: with f.Injected(), an error the failure explains (ENOMEM for
// an allocation, EFAULT for a copy) or a success as whole as without one
// (the kernel may absorb a failure, a retried page fault or a fallback);
// without, the operation's plain success. The verdict on the error path
// is the kernel's: a KASAN report, a WARN or an Oops logged during the
// point is a finding of subtest fail-nth=N and fails it, and a leak is a
// kmemleak finding (placed in the test running when it was allocated, to
// within a tick of the kernel's clock: the sweep's test if the point is
// shorter).
//
// fail-nth counts per thread, and Go moves goroutines between threads,
// so a sweep must mind the Go runtime:
//
//   - Each point runs on its own goroutine (a subtest's); f.Inject locks
//     it to its thread around the operation alone, so op must make the
//     operation's system calls on its own goroutine, inside Inject.
//   - Everything the thread does while armed counts: the runtime mapping
//     memory for a Go allocation or a stack growth, and the first touch
//     of a page (a user page, a page table: order-0 pages may fail).
//     Inject's function should be a bare system call (unix.Syscall or
//     the unix package's wrappers, not os.File, which allocates), with
//     its arguments converted and its buffers written (prefaulted, every
//     page) before. A failure injected into the runtime's own mmap kills
//     the test binary.
//   - The count of a run can still vary by a page fault or two; the
//     sweep ends at the first point where nothing was injected, as
//     syzkaller's does.
//   - Inject opens the control file before arming (opening allocates)
//     and arms, reads back and disarms it with single pwrite/pread
//     calls; it also waits until the kmodvm agent has read the point's
//     "=== RUN" line, since the agent stamps a test's start when it reads
//     it, and a report logged before the stamp would go to the sweep's
//     test instead of the point.
//
// The kernel's knobs are syzkaller's (EnableFaultInjection), restored
// when t ends. FailEach skips outside a kmodvm guest and on kernels
// without fail-nth; the -debug kernels have it.
func FailEach(t *testing.T, op func(t *testing.T, f *Fault)) {
	t.Helper()
	Sweep{}.Run(t, op)
}

// A Sweep is FailEach with settings; its zero value is FailEach's.
type Sweep struct {
	// MaxPoints bounds the sweep (0: DefaultMaxPoints). An operation that
	// still meets an injectable call at point MaxPoints fails t: it may
	// retry a failed call forever, or make more calls than the bound.
	MaxPoints int
	// Check, if set, runs at the end of each point, after the point's own
	// cleanups (those op registered): for what an operation must not
	// leave behind once its files and mappings are closed, such as a
	// module reference.
	Check func(t *testing.T, f *Fault)
}

// Run sweeps op's injectable calls as FailEach does, with s's settings.
func (s Sweep) Run(t *testing.T, op func(t *testing.T, f *Fault)) {
	t.Helper()
	EnableFaultInjection(t)
	limit := s.MaxPoints
	if limit <= 0 {
		limit = DefaultMaxPoints
	}
	for n := 1; ; n++ {
		f := &Fault{N: n}
		t.Run(fmt.Sprintf("fail-nth=%d", n), func(t *testing.T) {
			f.t = t
			if s.Check != nil {
				// Registered first, it runs after op's cleanups.
				t.Cleanup(func() { s.Check(t, f) })
			}
			op(t, f)
		})
		more, err := nextPoint(n, limit, f.outcome())
		if err != nil {
			t.Error(err)
		}
		if !more {
			if f.done && !f.in.Injected() {
				t.Logf("%d points; the run of fail-nth=%d made %d injectable calls and failed none", n-1, n, n-f.in.Left)
			}
			return
		}
	}
}

// Fault is one point of a sweep: the operation run with its N-th
// injectable call failing.
type Fault struct {
	N int // the call that fails, 1 for the first

	t    *testing.T
	in   Injection
	done bool
}

// Inject runs call, the operation, with its N-th injectable call failing
// (see FailEach for what call may do), and returns call's error. A point
// injects into one run of the operation: a second Inject fails the test.
func (f *Fault) Inject(call func() error) error {
	f.t.Helper()
	if f.done {
		f.t.Fatalf("fail-nth=%d: Inject called twice; a point injects into one run of the operation", f.N)
	}
	in, err := FailNth(f.N, call)
	if err != nil {
		f.t.Fatal(err)
	}
	f.in, f.done = in, true
	switch {
	case !in.Injected():
		f.t.Logf("no call failed: the operation made %d injectable calls", f.N-in.Left)
	case in.Err != nil:
		f.t.Logf("injectable call %d failed; the operation returned %v", f.N, in.Err)
	default:
		f.t.Logf("injectable call %d failed; the operation succeeded", f.N)
	}
	return in.Err
}

// Injected reports whether Inject's call met its N-th injectable call,
// which failed. If not, the call made fewer and none failed: the sweep's
// last point.
func (f *Fault) Injected() bool { return f.done && f.in.Injected() }

// pointOutcome is how a point's subtest ended.
type pointOutcome int

const (
	pointInjected pointOutcome = iota // the N-th call came, and failed
	pointClean                        // the operation made fewer than N calls
	pointStopped                      // the subtest failed or skipped before Inject
	pointNoInject                     // op returned without calling Inject
)

func (f *Fault) outcome() pointOutcome {
	switch {
	case f.done && f.in.Injected():
		return pointInjected
	case f.done:
		return pointClean
	case f.t != nil && (f.t.Failed() || f.t.Skipped()):
		return pointStopped
	}
	return pointNoInject
}

// nextPoint says whether the sweep goes on after point n, and what went
// wrong with the sweep itself: an operation still meeting calls at the
// bound, or one that never ran under injection. A point that failed or
// skipped before Inject ends the sweep quietly; its subtest says why.
func nextPoint(n, limit int, o pointOutcome) (more bool, err error) {
	switch o {
	case pointInjected:
		if n >= limit {
			return false, fmt.Errorf("fail-nth=%d: the operation still meets injectable calls after %d points: does it retry a failed call forever? (Sweep.MaxPoints raises the bound if it really makes more calls)", n, limit)
		}
		return true, nil
	case pointNoInject:
		return false, fmt.Errorf("fail-nth=%d: the operation returned without calling Fault.Inject", n)
	}
	return false, nil
}
