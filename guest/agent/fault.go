package agent

import (
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// faultHeader starts the kernel log records of reports after which the
// kernel may be wedged: the task that hit an Oops, BUG or general
// protection fault died where it stood, maybe holding a lock the test will
// wait for next. The host's table (vmtest/dmesg) tells them apart and
// names them; the agent needs only to know that one happened. A soft or
// hard lockup and an RCU stall count too: a CPU did not come back, and the
// host's watch on the agent counts them (vmtest/run, stuckPolicy); so does
// a "Bad swap file entry", a garbage page table entry the faulting task
// retries for ever. Warnings are not among them: the kernel goes on after
// one.
var faultHeader = regexp.MustCompile(`^(Oops|BUG: |kernel BUG at |general protection fault|invalid opcode: |Internal error: |Unable to handle kernel |usercopy: |` +
	`watchdog: BUG: soft lockup|(NMI )?watchdog: Watchdog detected hard LOCKUP|(rcu: )?INFO: rcu_\w+ (self-)?detected|\w+: Bad swap file entry)`)

// notFault starts reports faultHeader would take that leave every task
// running: KCSAN's data races, which a KCSAN kernel reports every few
// seconds in its own timers and RCU whatever runs; after one, a quiet
// test (a slow sweep of loads) must not be ended for making no progress.
var notFault = regexp.MustCompile(`^BUG: KCSAN: `)

// faults counts the fault reports in the kernel log and keeps the last
// one's first line. Safe for concurrent use.
type faults struct {
	n    atomic.Uint64
	last atomic.Pointer[string]
}

// note counts text if it starts a fault report.
func (f *faults) note(text string) {
	if faultHeader.MatchString(text) && !notFault.MatchString(text) {
		f.last.Store(&text)
		f.n.Add(1)
	}
}

// since returns the last fault's line if there were more than n.
func (f *faults) since(n uint64) (string, bool) {
	if f.n.Load() <= n {
		return "", false
	}
	if p := f.last.Load(); p != nil {
		return *p, true
	}
	return "", true
}

// errWedged marks an operation that guarded gave up on.
var errWedged = errors.New(event.Wedged)

// guarded runs op, a module's load or unload (a system call into the
// module's own code), and returns its error. When the kernel reports a
// fault while op runs and op has not returned grace after that, the fault
// most likely killed the task where it stood (an Oops ends it inside the
// kernel, and its goroutine never returns) or left it waiting on what the
// dead code held: guarded then returns an error wrapping errWedged, naming
// the fault, and leaves op's goroutine behind. Without a grace (or a
// kernel log) it waits for op.
func (a *Agent) guarded(grace time.Duration, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	// The binaries' stall watch, with no output ever: it fires grace
	// after a fault reported while op runs (and never without a grace or
	// a kernel log).
	var silent atomic.Int64
	st := a.stallWatch(grace, &silent)
	defer st.stop()
	select {
	case err := <-done:
		return err
	case line := <-st.fired:
		return fmt.Errorf("%w: no return %s after the kernel reported %q", errWedged, grace, line)
	}
}
