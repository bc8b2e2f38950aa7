package collect

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// warnAt sends the kernel log records of a WARNING in fn, logged at guest
// time at (the run's kernel log clock equals its monotonic clock).
func warnAt(c *Collector, at time.Duration, fn string) {
	lines := []string{
		fmt.Sprintf("WARNING: CPU: 0 PID: 90 at drv.c:12 %s+0x50/0x90 [mmapdrv]", fn),
		"Call Trace:",
		" <TASK>",
		fmt.Sprintf(" %s+0x50/0x90 [mmapdrv]", fn),
		" </TASK>",
		"---[ end trace 0000000000000000 ]---",
	}
	for _, text := range lines {
		c.Handle(event.Event{Type: event.Kmsg, Mono: int64(at), Kmsg: &event.KmsgRecord{Level: 4, Usec: at.Microseconds(), Text: text}})
	}
}

// Every report is attributed to what ran when the kernel printed it: a
// test, a module's load or unload, or nothing; and one printed before the
// first module under test was loaded is the kernel's own.
func TestFindingsAttributedToTheirStep(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		at                time.Duration
		fn                string
		test, step, owner string
	}{
		{at: ms(500), fn: "boot_cpu", owner: report.OwnerKernel},           // before the agent
		{at: ms(1050), fn: "after_hello", owner: report.OwnerKernel},       // agent up, nothing loaded
		{at: ms(1150), fn: "videodev_init", owner: report.OwnerKernel},     // an in-kernel dependency's load
		{at: ms(1400), fn: "mmapdrv_init", step: "load mmapdrv"},           // the module's init
		{at: ms(1600), fn: "helper_init", step: "load helper"},             // an agent that sends no Start
		{at: ms(2500), fn: "mmapdrv_read", test: "mmapdrv.test: TestRead"}, // a test
		{at: ms(3700), fn: "mmapdrv_work", step: ""},                       // between tests and unload
		{at: ms(4100), fn: "mmapdrv_exit", step: "unload mmapdrv"},         // the module's exit
		{at: ms(4500), fn: "after_unload", step: ""},                       // after everything
	}
	c := New(Options{})
	mod := func(name string, dep bool) *event.Module { return &event.Module{Name: name, Dep: dep} }
	events := []event.Event{
		{Type: event.Hello, Mono: int64(ms(1000))},
		{Type: event.ModuleLoad, Module: mod("videodev", true), Start: int64(ms(1100)), Mono: int64(ms(1200))},
		{Type: event.ModuleLoad, Module: mod("mmapdrv", false), Start: int64(ms(1300)), Mono: int64(ms(1500))},
		{Type: event.ModuleLoad, Module: mod("helper", false), Mono: int64(ms(1700))},
		{Type: event.BinaryStart, Binary: "mmapdrv.test", Mono: int64(ms(2000))},
		{Type: event.Test, Binary: "mmapdrv.test", Test: &event.TestEvent{Action: "run", Test: "TestRead"}, Mono: int64(ms(2100))},
		{Type: event.Test, Binary: "mmapdrv.test", Test: &event.TestEvent{Action: "pass", Test: "TestRead"}, Mono: int64(ms(3000))},
		{Type: event.BinaryEnd, Binary: "mmapdrv.test", Exit: &event.Exit{}, Mono: int64(ms(3500))},
		{Type: event.ModuleUnload, Module: mod("mmapdrv", false), Start: int64(ms(4000)), Mono: int64(ms(4200))},
	}
	for _, ev := range events {
		c.Handle(ev)
	}
	for _, tt := range tests {
		warnAt(c, tt.at, tt.fn)
	}
	c.finish(nil, report.Pass)
	byTitle := map[string]report.Finding{}
	for _, f := range c.kernel.Findings {
		byTitle[f.Title] = f
	}
	for _, tt := range tests {
		f, ok := byTitle["WARNING in "+tt.fn]
		if !ok {
			t.Errorf("%v: no finding for %s", tt.at, tt.fn)
			continue
		}
		if f.Test != tt.test || f.Step != tt.step || f.Owner != tt.owner {
			t.Errorf("%v %s: test %q step %q owner %q; want %q %q %q", tt.at, tt.fn, f.Test, f.Step, f.Owner, tt.test, tt.step, tt.owner)
		}
		if f.Func != tt.fn || f.Time != tt.at.Seconds() || len(f.Frames) != 1 || f.Frames[0].Module != "mmapdrv" {
			t.Errorf("%s: func %q time %v frames %+v", tt.fn, f.Func, f.Time, f.Frames)
		}
	}
}

// The kernel's own findings are kept and shown but fail nothing; a report
// during a module's load fails the kernel like one outside any test.
func TestVerdictOnKernelOwnAndStepFindings(t *testing.T) {
	tests := []struct {
		f    report.Finding
		want report.Status
	}{
		{report.Finding{Kind: "KASAN", Title: "KASAN: wild-memory-access Read in do_raw_spin_lock", Owner: report.OwnerKernel}, report.Pass},
		{report.Finding{Kind: "KASAN", Title: "KASAN: slab-out-of-bounds Write in drv_init", Step: "load drv"}, report.Fail},
		{report.Finding{Kind: "WARNING", Title: "WARNING in drv_exit"}, report.Fail},
		{report.Finding{Kind: report.KindTaint, Title: "drv: loading out-of-tree module taints kernel"}, report.Pass},
	}
	for _, tt := range tests {
		k := &report.Kernel{Name: "k", Boot: &report.Boot{Status: report.Pass}, Findings: []report.Finding{tt.f}}
		got, why := New(Options{}).Verdict(k)
		if got != tt.want {
			t.Errorf("%s (%s): verdict %s (%s), want %s", tt.f.Title, tt.f.Where(), got, why, tt.want)
		}
	}
}

func TestKCSANRaceOutsideTheModulesIsTheKernels(t *testing.T) {
	// Real reports of kmodvm's 6.1-kcsan kernel: a benign race between
	// two timer functions, and the seeded race in sanmod.
	kernelRace := "[    8.127465] BUG: KCSAN: data-race in do_nanosleep / hrtimer_wakeup\n[    8.127864] \n" +
		"[    8.128074] write to 0xffffc90000187eb0 of 8 bytes by interrupt on cpu 1:\n[    8.128492]  hrtimer_wakeup+0x24/0x50\n" +
		"[    8.128622]  __hrtimer_run_queues+0x10c/0x500\n[    8.129053] \n" +
		"[    8.129053] read to 0xffffc90000187eb0 of 8 bytes by task 53 on cpu 1:\n[    8.129053]  do_nanosleep+0x11f/0x290\n" +
		"[    8.129053] \n[    8.129053] ==================================================================\n"
	moduleRace := "[    9.626671] BUG: KCSAN: data-race in sanmod_race_fn [sanmod] / sanmod_race_fn [sanmod]\n[    9.627223] \n" +
		"[    9.627390] write to 0xffffffffa00026d0 of 4 bytes by task 49 on cpu 0:\n[    9.627643]  sanmod_race_fn+0x5d/0xc0 [sanmod]\n" +
		"[    9.628005]  kthread+0x16a/0x190\n[    9.628389] \n[    9.630836] ==================================================================\n"
	col := New(Options{})
	col.Handle(event.Event{Type: event.Hello, Mono: 1e9})
	col.Handle(event.Event{Type: event.ModuleLoad, Mono: 2e9, Start: 1.5e9, Module: &event.Module{Name: "sanmod"}})
	col.finish([]byte(kernelRace+moduleRace), report.Pass)
	var own, blamed []string
	for _, f := range col.kernel.Findings {
		if f.Kind != "KCSAN" {
			continue
		}
		if f.KernelOwn() {
			own = append(own, f.Title)
		} else {
			blamed = append(blamed, f.Title)
		}
	}
	if len(own) != 1 || own[0] != "KCSAN: data-race in do_nanosleep / hrtimer_wakeup" ||
		len(blamed) != 1 || blamed[0] != "KCSAN: data-race in sanmod_race_fn / sanmod_race_fn" {
		t.Errorf("kernel's own %q, blamed %q", own, blamed)
	}
}

// Real reports of 6.1-kcsan with the bundled driver: the seeded race of a
// write() that takes no lock, two copies each called by the driver, is the
// driver's; a race between RCU's quiescent-state check, run under the
// driver's vfree in its exit, and the RCU softirq that interrupted it is
// the kernel's, though the driver's exit is in one of its stacks.
func TestKCSANRaceUnderAModuleCallIsTheKernels(t *testing.T) {
	var log []byte
	for _, name := range []string{"rcu-under-module-exit.console", "module-copies.console"} {
		b, err := os.ReadFile(filepath.Join("..", "dmesg", "testdata", "kcsan", name))
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b...)
	}
	col := New(Options{})
	col.Handle(event.Event{Type: event.Hello, Mono: 1e9})
	col.Handle(event.Event{Type: event.ModuleLoad, Mono: 2e9, Start: 1.5e9, Module: &event.Module{Name: "mmapdrv"}})
	col.finish(log, report.Pass)
	got := map[string]bool{}
	for _, f := range col.kernel.Findings {
		if f.Kind == "KCSAN" {
			got[f.Title] = f.KernelOwn()
		}
	}
	want := map[string]bool{
		"KCSAN: data-race in rcu_all_qs / rcu_report_qs_rdp":  true,
		"KCSAN: data-race in _copy_from_user / _copy_to_user": false,
	}
	if !maps.Equal(got, want) {
		t.Errorf("KCSAN findings (title: the kernel's own) %v, want %v", got, want)
	}
}
