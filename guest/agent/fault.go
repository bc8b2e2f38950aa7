package agent

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
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

// dieMark is in the first line of a report the kernel's die() prints
// ("Oops: 0002 [#1] PREEMPT SMP KASAN", "general protection fault, ...:
// 0000 [#1] ...", arm64's "Internal error: Oops: ... [#1] ..."): the task
// it names next ("CPU: 0 PID: 53 Comm: init", 6.10 on "CPU: 0 UID: 0
// PID: 53 ...") is killed where it stood. A KASAN report names its task
// too, which goes on: it has no such mark.
var (
	dieMark  = regexp.MustCompile(` \[#\d+\]`)
	dieTask  = regexp.MustCompile(`^CPU: \d+ (?:UID: \d+ )?PID: (\d+) Comm: `)
	maxNoted = 8 // records after a die() mark in which its task is named
)

// faults counts the fault reports in the kernel log and keeps the last
// one's first line, and the thread the last die() killed. Written by the
// kernel log's reader alone; safe to read concurrently.
type faults struct {
	n    atomic.Uint64
	last atomic.Pointer[string]
	// dying counts the records since a die() mark down to 0, the task not
	// yet named; killed is the thread it named, with the count of
	// faults (n) then.
	dying  int
	killed atomic.Pointer[killedTask]
}

// killedTask is a thread die() killed, and the count of faults then.
type killedTask struct {
	tid int
	n   uint64
}

// note counts text if it starts a fault report, and notes the thread a
// die() report kills.
func (f *faults) note(text string) {
	if faultHeader.MatchString(text) && !notFault.MatchString(text) {
		f.last.Store(&text)
		f.n.Add(1)
		if dieMark.MatchString(text) {
			f.dying = maxNoted
			return
		}
	}
	if f.dying == 0 {
		return
	}
	f.dying--
	if m := dieTask.FindStringSubmatch(text); m != nil {
		tid, _ := strconv.Atoi(m[1])
		f.killed.Store(&killedTask{tid: tid, n: f.n.Load()})
		f.dying = 0
	}
}

// killedSince reports whether die() killed thread tid after the count of
// faults was n.
func (f *faults) killedSince(tid int, n uint64) bool {
	k := f.killed.Load()
	return k != nil && tid != 0 && k.tid == tid && k.n > n
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
	return a.guardedTask(grace, nil, op)
}

// guardedTask is guarded for an op that stores the ID of the thread it
// runs on in task: when the kernel's die() kills that thread (an Oops in
// the module's init, in the point's own system call), op can never
// return, and it gives up at once instead of after the grace. A sweep's
// point that Oopses costs its VM seconds, not the grace (20 s and more
// on a debug kernel under TCG).
func (a *Agent) guardedTask(grace time.Duration, task *atomic.Int64, op func() error) error {
	done := make(chan error, 1)
	var before uint64
	if a.kmsg != nil {
		before = a.kmsg.faults.n.Load()
	}
	go func() { done <- op() }()
	killed, stop := a.killedWatch(task, before)
	defer stop()
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
	case line := <-killed:
		return fmt.Errorf("%w: the kernel killed the task in it after reporting %q", errWedged, line)
	}
}

// killedWatch returns a channel that gets the fault's line once die()
// killed the thread task names, after the count of faults was before
// (nil without a task), and a stop for its watch, which looks every
// killedPoll.
func (a *Agent) killedWatch(task *atomic.Int64, before uint64) (<-chan string, func()) {
	if task == nil || a.kmsg == nil {
		return nil, func() {}
	}
	f := &a.kmsg.faults
	out, done := make(chan string, 1), make(chan struct{})
	go func() {
		tick := time.NewTicker(killedPoll)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-done:
				return
			}
			if f.killedSince(int(task.Load()), before) {
				line, _ := f.since(before)
				out <- line
				return
			}
		}
	}()
	var once sync.Once
	return out, func() { once.Do(func() { close(done) }) }
}

// killedPoll is how often killedWatch looks: the rest of the report (the
// stack, the end of trace) is logged meanwhile.
const killedPoll = 250 * time.Millisecond
