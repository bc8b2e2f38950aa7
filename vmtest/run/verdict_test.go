package run

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// run is a guest's events, as the collector receives them.
type run []event.Event

func hello() event.Event { return event.Event{Type: event.Hello, Kernel: "6.1.0-57-amd64"} }
func done() event.Event  { return event.Event{Type: event.Done} }
func loaded() event.Event {
	return event.Event{Type: event.ModuleLoad, Module: &event.Module{Name: "mmapdrv"}}
}
func testEv(mono int64, action, name string) event.Event {
	return event.Event{Type: event.Test, Mono: mono, Binary: "pkg", Test: &event.TestEvent{Action: action, Test: name}}
}
func binStart(mono int64) event.Event {
	return event.Event{Type: event.BinaryStart, Mono: mono, Binary: "pkg"}
}
func binEnd(mono int64, code int) event.Event {
	return event.Event{Type: event.BinaryEnd, Mono: mono, Binary: "pkg", Exit: &event.Exit{Code: code}}
}
func kmsgEv(seq uint64, usec int64, text string) event.Event {
	return event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: seq, Level: 4, Usec: usec, Text: text}}
}

// passing is a run whose one test passes, logging two kernel records.
func passing() run {
	return run{hello(), kmsgEv(0, 1_000_000, "Linux version 6.1"), loaded(), binStart(1e9),
		testEv(2e9, "run", "TestA"), testEv(3e9, "pass", "TestA"), binEnd(35e8, 0), kmsgEv(1, 4_000_000, "all quiet"), done()}
}

const warning = "WARNING: CPU: 0 PID: 1 at drivers/x.c:1 x_probe+0x1/0x2 [mmapdrv]"

// The verdict of every way a VM can end, from the events it sent and how
// QEMU ended: what settle and verdict decide, without a VM.
func TestVerdictAndSettle(t *testing.T) {
	for _, c := range []struct {
		name      string
		events    run
		res       qemu.Result
		err       error
		attempt   int
		status    report.Status // the kernel's
		boot      report.Status
		says      string // in the kernel's error
		testState report.Status
	}{
		{"pass", passing(), qemu.Result{Exit: qemu.ExitPoweroff}, nil, 1, report.Pass, report.Pass, "", report.Pass},
		{"a failed test", run{hello(), loaded(), binStart(1e9), testEv(2e9, "run", "TestA"), testEv(3e9, "fail", "TestA"), binEnd(35e8, 1), done()},
			qemu.Result{Exit: qemu.ExitPoweroff}, nil, 1, report.Fail, report.Pass, "1 test(s) failed", report.Fail},
		{"a finding outside any test", append(passing()[:8:8], kmsgEv(2, 9_000_000, warning), done()),
			qemu.Result{Exit: qemu.ExitPoweroff}, nil, 1, report.Fail, report.Pass, "WARNING in x_probe (outside any test)", report.Pass},
		{"a finding during a test", run{hello(), loaded(), binStart(1e9), testEv(2e9, "run", "TestA"), kmsgEv(0, 2_500_000, warning), testEv(3e9, "pass", "TestA"), binEnd(35e8, 0), done()},
			qemu.Result{Exit: qemu.ExitPoweroff}, nil, 1, report.Fail, report.Pass, "1 test(s) failed", report.Fail},
		{"lost kernel log records", append(passing()[:8:8], kmsgEv(9, 9_000_000, "after the overrun"), done()),
			qemu.Result{Exit: qemu.ExitPoweroff}, nil, 1, report.Fail, report.Pass, "7 kernel log records lost", report.Pass},
		{"a panic during a test", run{hello(), loaded(), testEv(2e9, "run", "TestA")},
			qemu.Result{Exit: qemu.ExitPanic, Panic: "Kernel panic - not syncing: boom"}, nil, 1, report.Fail, report.Crash, "kernel panic: Kernel panic - not syncing: boom", report.Crash},
		{"a timeout", run{hello(), loaded(), testEv(2e9, "run", "TestA")},
			qemu.Result{Exit: qemu.ExitTimeout}, nil, 1, report.Fail, report.Timeout, "did not finish in time", report.Timeout},
		{"QEMU could not start", nil, qemu.Result{Exit: qemu.ExitQEMUError, ExitStatus: "exit status 1", Stderr: "qemu: bad option"},
			nil, 2, report.Error, report.Error, "QEMU could not start the VM (exit status 1): qemu: bad option (after 2 attempts)", ""},
		{"QEMU died after the agent started", run{hello(), loaded(), testEv(2e9, "run", "TestA")},
			qemu.Result{Exit: qemu.ExitCrash, ExitStatus: "signal: killed"}, nil, 2, report.Error, report.Error, "QEMU died (signal: killed) (after 2 attempts)", report.Crash},
		{"retries exhausted: the agent never started", nil, qemu.Result{Exit: qemu.ExitPoweroff, ExitStatus: "exit status 0"},
			nil, 2, report.Error, report.Error, "the guest agent never started (QEMU: poweroff, exit status 0); see console.log (after 2 attempts)", ""},
		{"the guest powered off early", run{hello(), loaded(), testEv(2e9, "run", "TestA")},
			qemu.Result{Exit: qemu.ExitPoweroff}, nil, 1, report.Fail, report.Crash, "the guest powered off without finishing", report.Crash},
		{"canceled", run{hello(), loaded(), testEv(2e9, "run", "TestA")},
			qemu.Result{Exit: qemu.ExitCanceled}, nil, 1, report.Error, report.Error, "interrupted", report.NotRun},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := collect.New(collect.Options{})
			for _, ev := range c.events {
				col.Handle(ev)
			}
			kr := &report.Kernel{Name: "6.1.0-57-amd64", Files: map[string]string{}}
			res := c.res
			run := &kernelRun{r: &runner{cfg: &runcfg.Config{}}, dir: t.TempDir()}
			run.settle(vmPlan{entry: kr}, vmResult{res: &res, col: col, err: c.err}, c.attempt)
			if kr.Status != c.status || kr.Boot.Status != c.boot || !strings.Contains(kr.Error, c.says) {
				t.Errorf("kernel %s (boot %s) %q; want %s (boot %s) saying %q", kr.Status, kr.Boot.Status, kr.Error, c.status, c.boot, c.says)
			}
			if c.testState != "" {
				if len(kr.Tests) != 1 || kr.Tests[0].Status != c.testState {
					t.Errorf("tests %+v, want TestA %s", kr.Tests, c.testState)
				}
			}
		})
	}
}

// A VM the host ended as stuck is a crash of the test that ran, saying
// why; one the reboot budget ended leaves its test not run, and fails the
// kernel (it only runs after crashes) without an infrastructure error.
func TestSettleStuckAndBudgetEndedVMs(t *testing.T) {
	events := run{hello(), loaded(), binStart(1e9), testEv(2e9, "run", "TestA")}
	for _, c := range []struct {
		name       string
		res        qemu.Result
		cut        bool
		boot, test report.Status
		says       string
	}{
		{"stuck", qemu.Result{Exit: qemu.ExitStuck, Cause: `the guest agent sent nothing for 20s after the kernel reported "Oops"`, SysRq: "task:init state:D"},
			false, report.Crash, report.Crash, `kmodvm ended the VM: the guest agent sent nothing for 20s after the kernel reported "Oops"; the VM ended 27.0s after the report (the diagnosis took 2.0s)`},
		{"ended by the reboot budget", qemu.Result{Exit: qemu.ExitCanceled}, true, report.NotRun, report.NotRun, "ended when the reboot budget's time was over"},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := collect.New(collect.Options{})
			for _, ev := range events {
				col.Handle(ev)
			}
			kr := &report.Kernel{Name: "6.1.0-57-amd64", Files: map[string]string{}}
			res := c.res
			run := &kernelRun{r: &runner{cfg: &runcfg.Config{}}, dir: t.TempDir()}
			run.settle(vmPlan{entry: kr, cut: func() bool { return c.cut }},
				vmResult{res: &res, col: col, stuckAfter: 27 * time.Second, diagnosis: 2 * time.Second}, 1)
			if kr.Status != report.Fail || kr.Boot.Status != c.boot || !strings.Contains(kr.Error, c.says) {
				t.Errorf("kernel %s (boot %s) %q; want fail (boot %s) saying %q", kr.Status, kr.Boot.Status, kr.Error, c.boot, c.says)
			}
			if len(kr.Tests) != 1 || kr.Tests[0].Status != c.test {
				t.Errorf("tests %+v, want TestA %s", kr.Tests, c.test)
			}
		})
	}
}
