package agent

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// The reports after which a test may never progress are told from the
// kernel's other messages by their first line, as real kernels print it.
func TestFaultHeaders(t *testing.T) {
	for _, c := range []struct {
		line  string
		fault bool
	}{
		{"BUG: kernel NULL pointer dereference, address: 0000000000000000", true},
		{"Oops: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"kernel BUG at drivers/faultmod.c:172!", true},
		{"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"BUG: KASAN: slab-out-of-bounds in mmapdrv_write+0x5a/0x120 [mmapdrv]", true},
		{"usercopy: Kernel memory overwrite attempt detected to SLUB object 'kmalloc-16' (offset 0, size 64)!", true},
		{"Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000", true},
		{"watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [faultmod.test:91]", true},
		{"rcu: INFO: rcu_preempt self-detected stall on CPU", true},
		{"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", true},
		{"watchdog: Watchdog detected hard LOCKUP on cpu 1", true},
		{"get_swap_device: Bad swap file entry 340392ce694072f9", true},
		{"WARNING: CPU: 0 PID: 85 at faultmod.c:168 faultmod_ioctl+0x2a/0x200 [faultmod]", false},
		{"BUG: KCSAN: data-race in do_nanosleep / hrtimer_wakeup", false},
		{"BUG: KCSAN: data-race in sanmod_race_fn+0x5d/0xc0 [sanmod]", false},
		{"faultmod: loading out-of-tree module taints kernel.", false},
		{"INFO: task faultmod.test:91 blocked for more than 10 seconds.", false},
	} {
		var f faults
		f.note(c.line)
		if line, got := f.since(0); got != c.fault || (got && line != c.line) {
			t.Errorf("%q: fault %v (%q), want %v", c.line, got, line, c.fault)
		}
	}
	var f faults
	f.note("Oops: 0000 [#1] SMP")
	if _, ok := f.since(1); ok {
		t.Error("a fault counted before is new again")
	}
}

// A binary is ended only after a fault and a grace period without output;
// output after the fault restarts the wait.
func TestStallWatchFiresAfterAFaultAndSilence(t *testing.T) {
	a := &Agent{kmsg: &kmsgStream{}}
	var last atomic.Int64
	last.Store(event.Monotonic())
	const grace = 300 * time.Millisecond
	s := a.stallWatch(grace, &last)
	defer s.stop()
	select {
	case <-s.fired:
		t.Fatal("fired without a fault")
	case <-time.After(2 * grace):
	}
	faultAt := event.Monotonic()
	a.kmsg.faults.note("Oops: 0000 [#1] PREEMPT SMP NOPTI")
	// The binary writes on after the fault: its last output is stamped a
	// grace after it (the watch compares stamps with its own clock, so a
	// stamp set now stands for output then). Whenever the watch fires,
	// that output is at least a grace behind it, whatever the machine's
	// load; a watch that waited from the fault alone fires a grace early.
	lastOut := faultAt + int64(grace)
	last.Store(lastOut)
	var line string
	select {
	case line = <-s.fired:
	case <-time.After(5 * time.Second):
		t.Fatal("never fired after the fault and silence")
	}
	if quiet := time.Duration(event.Monotonic() - lastOut); quiet < grace {
		t.Errorf("fired %v after the binary's last output, want at least %v", quiet, grace)
	}
	if line != "Oops: 0000 [#1] PREEMPT SMP NOPTI" {
		t.Errorf("fault %q", line)
	}
}
