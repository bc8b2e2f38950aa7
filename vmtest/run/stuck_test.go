package run

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// step is something a guest sent: at seconds after the start, what is
// "beat", "event" (test output), "start" and "end" (a binary's), "kmsg",
// "log:<record text>" or "console:<line>".
type step struct {
	at   int
	what string
}

// A guest is stuck once the kernel reported a fault and the agent then
// sent nothing, heartbeats included, for the grace; not before, not
// without a fault or a heartbeat ever, and not without a grace.
func TestStuckPolicy(t *testing.T) {
	const oops = "[   12.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000"
	type check struct {
		at    int
		stuck bool
	}
	for _, c := range []struct {
		name   string
		grace  time.Duration
		steps  []step
		checks []check
		fault  string // in the cause
	}{
		{"no fault, long silence", 20 * time.Second, []step{{0, "beat"}},
			[]check{{600, false}}, ""},
		{"fault, then silence", 20 * time.Second, []step{{0, "beat"}, {5, "log:" + oops}},
			[]check{{24, false}, {25, true}}, "BUG: kernel NULL pointer dereference"},
		{"fault on the console only", 20 * time.Second, []step{{0, "beat"}, {5, "console:" + oops}},
			[]check{{24, false}, {25, true}}, "BUG: kernel NULL pointer dereference"},
		{"heartbeats after the fault", 20 * time.Second,
			[]step{{0, "beat"}, {5, "log:" + oops}, {10, "beat"}, {20, "beat"}, {30, "beat"}},
			[]check{{40, false}, {49, false}, {50, true}}, "BUG: kernel NULL pointer dereference"},
		{"test output after the fault", 20 * time.Second,
			[]step{{0, "beat"}, {5, "console:" + oops}, {15, "event"}},
			[]check{{34, false}, {35, true}}, ""},
		{"the first fault counts", 20 * time.Second,
			[]step{{0, "beat"}, {5, "console:" + oops}, {20, "console:[   27.000000] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#2] SMP"}},
			[]check{{25, true}}, "NULL pointer"},
		{"soft lockup", 20 * time.Second,
			[]step{{0, "beat"}, {30, "console:[   52.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [faultmod.test:91]"}},
			[]check{{49, false}, {50, true}}, "soft lockup"},
		{"a warning is no fault", 20 * time.Second,
			[]step{{0, "beat"}, {5, "log:WARNING: CPU: 0 PID: 85 at faultmod.c:168 faultmod_ioctl+0x2a/0x200 [faultmod]"}},
			[]check{{600, false}}, ""},
		{"a hung task is no fault", 20 * time.Second,
			[]step{{0, "beat"}, {5, "log:INFO: task faultmod.test:91 blocked for more than 10 seconds."}},
			[]check{{600, false}}, ""},
		{"an agent without heartbeats", 20 * time.Second, []step{{0, "event"}, {5, "log:" + oops}},
			[]check{{600, false}}, ""},
		{"no grace", 0, []step{{0, "beat"}, {5, "log:" + oops}},
			[]check{{600, false}}, ""},
		{"the agent lives, its run does not move", 20 * time.Second,
			append([]step{{0, "beat"}, {1, "start"}, {5, "log:" + oops}}, every(2, 7, 100, "beat")...),
			[]check{{39, false}, {40, true}}, "no progress for 35s"},
		{"a kernel log flood is no progress of the run", 20 * time.Second,
			append([]step{{0, "beat"}, {1, "start"}, {5, "log:" + oops}}, every(1, 6, 100, "kmsg")...),
			[]check{{39, false}, {40, true}}, "BUG: kernel NULL pointer dereference"},
		{"test output after the fault moves the run", 20 * time.Second,
			append(append([]step{{0, "beat"}, {1, "start"}, {5, "log:" + oops}}, every(10, 10, 40, "event")...), every(2, 41, 200, "beat")...),
			[]check{{74, false}, {75, true}}, "no progress"},
		{"the agent ended the silent binary itself", 20 * time.Second,
			append([]step{{0, "beat"}, {1, "start"}, {5, "log:" + oops}, {27, "end"}}, every(2, 7, 300, "beat")...),
			[]check{{300, false}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			p := stuckPolicy{grace: c.grace}
			slices.SortStableFunc(c.steps, func(a, b step) int { return a.at - b.at })
			at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
			next := 0
			for _, ch := range c.checks {
				for ; next < len(c.steps) && c.steps[next].at <= ch.at; next++ {
					s := c.steps[next]
					kind, arg, _ := strings.Cut(s.what, ":")
					switch kind {
					case "beat":
						p.heard(at(s.at), event.Heartbeat)
					case "event":
						p.heard(at(s.at), event.Test)
					case "start":
						p.heard(at(s.at), event.BinaryStart)
					case "end":
						p.heard(at(s.at), event.BinaryEnd)
					case "kmsg":
						p.heard(at(s.at), event.KmsgBatch)
					case "log", "console":
						p.logged(at(s.at), []byte(arg))
					}
				}
				cause, stuck := p.stuck(at(ch.at))
				if stuck != ch.stuck {
					t.Errorf("at %ds: stuck %v (%q), want %v", ch.at, stuck, cause, ch.stuck)
				}
				if stuck && (!strings.Contains(cause, c.fault) || !strings.Contains(cause, fmt.Sprint(c.grace)) || strings.Contains(cause, "[  ")) {
					t.Errorf("at %ds: cause %q, want the grace and the fault %q without its timestamp", ch.at, cause, c.fault)
				}
			}
		})
	}
}

// every returns steps of what, every n seconds from first to last.
func every(n, first, last int, what string) []step {
	var out []step
	for s := first; s <= last; s += n {
		out = append(out, step{s, what})
	}
	return out
}

// The watch reads the console in pieces, whole lines at a time, and ends
// the VM (its channel) once the policy says stuck.
func TestStuckWatchEndsTheVM(t *testing.T) {
	w := watchStuck(300 * time.Millisecond)
	w.heard(event.Heartbeat)
	for _, piece := range []string{"[    1.0] mmapdrv: loaded\n[   12.0] BUG: kernel NULL po", "inter dereference, address: 0\n", "[   12.1] Call Trace:\n"} {
		w.Write([]byte(piece))
	}
	select {
	case cause := <-w.ends:
		if !strings.Contains(cause, `"BUG: kernel NULL pointer dereference, address: 0"`) {
			t.Errorf("cause %q", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch never ended the VM")
	}
	if faultAt, endedAt := w.close(); faultAt.IsZero() || endedAt.Sub(faultAt) < 300*time.Millisecond {
		t.Errorf("close: fault at %v, VM ended at %v: want the grace between", faultAt, endedAt)
	}
}
