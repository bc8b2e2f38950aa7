package agent

import (
	"regexp"
	"sync/atomic"
)

// faultHeader starts the kernel log records of reports after which the
// kernel may be wedged: the task that hit an Oops, BUG or general
// protection fault died where it stood, maybe holding a lock the test will
// wait for next. The host's table (vmtest/dmesg) tells them apart and
// names them; the agent needs only to know that one happened. Warnings are
// not among them: the kernel goes on after one.
var faultHeader = regexp.MustCompile(`^(Oops|BUG: |kernel BUG at |general protection fault|invalid opcode: |Internal error: |Unable to handle kernel |usercopy: )`)

// faults counts the fault reports in the kernel log and keeps the last
// one's first line. Safe for concurrent use.
type faults struct {
	n    atomic.Uint64
	last atomic.Pointer[string]
}

// note counts text if it starts a fault report.
func (f *faults) note(text string) {
	if faultHeader.MatchString(text) {
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
