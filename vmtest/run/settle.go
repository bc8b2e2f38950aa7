package run

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// settle turns the end of v, the VM of this attempt, and its events into
// the verdict of v's report.
func (run *kernelRun) settle(v vmPlan, end vmResult, attempt int) {
	res, col, err := end.res, end.col, end.err
	kr, dir := v.entry, run.dir
	for _, n := range vmFiles {
		n = runcfg.ArtifactName(n, v.n)
		kr.Files[n] = filepath.Join(dir, n)
	}
	if p := filepath.Join(dir, runcfg.ReproScript); v.n == 0 && fileExists(p) {
		kr.Files[runcfg.ReproScript] = p
	}
	b := &report.Boot{Status: report.Pass, Exit: string(res.Exit), Accel: string(res.Accel), Attempt: attempt, Console: kr.Files[runcfg.ArtifactName(runcfg.ConsoleLog, v.n)], Snapshot: end.snapshot}
	kr.Boot = b
	kr.Modules = col.Modules()
	kr.Timing.Boot, kr.Timing.Tests = end.boot, end.tests
	_, hello := col.Hello()
	vmEnd, dump, why := report.Crash, "", ""
	switch {
	case v.cut != nil && v.cut():
		b.Status, b.Error, vmEnd = report.NotRun, "ended when the reboot budget's time was over", report.NotRun
		why = "the reboot budget's time was over"
	case err != nil:
		b.Status, b.Error = report.Error, err.Error()
	case res.Exit == qemu.ExitPanic:
		b.Status, b.Error, vmEnd = report.Crash, "kernel panic: "+strings.TrimSpace(res.Panic), report.Crash
	case res.Exit == qemu.ExitTimeout:
		b.Status, b.Error, vmEnd = report.Timeout, "the VM did not finish in time", report.Timeout
		b.Hang = hangReport(res, kr, run.built)
		dump = res.SysRq
	case res.Exit == qemu.ExitStuck:
		b.Status, b.Error, vmEnd = report.Crash, stuckError(res.Cause, end.stuckAfter, end.diagnosis), report.Crash
		b.Hang = hangReport(res, kr, run.built)
		dump, why = res.SysRq, res.Cause
	case res.Exit == qemu.ExitCanceled:
		b.Status, b.Error, vmEnd = report.Error, "interrupted", report.NotRun
	case res.Exit == qemu.ExitQEMUError && !hello:
		b.Status, b.Error = report.Error, fmt.Sprintf("QEMU could not start the VM (%s)%s", res.ExitStatus, stderrOf(res))
	case !hello:
		b.Status, b.Error = report.Error, fmt.Sprintf("the guest agent never started (QEMU: %s, %s); see console.log%s", res.Exit, res.ExitStatus, stderrOf(res))
	case res.Exit == qemu.ExitCrash || res.Exit == qemu.ExitQEMUError:
		b.Status, b.Error = report.Error, fmt.Sprintf("QEMU died (%s)%s", res.ExitStatus, stderrOf(res))
	case res.Exit == qemu.ExitReset:
		b.Status, b.Error = report.Crash, "the guest reset (triple fault or reboot)"
	case !col.AgentDone():
		b.Status, b.Error = report.Crash, "the guest powered off without finishing"
	}
	if b.Status == report.Error && attempt > 1 {
		b.Error += fmt.Sprintf(" (after %d attempts)", attempt)
	}
	col.Finish(kr, collect.End{Status: vmEnd, Console: end.console, Dump: dump, Why: why})
	if loss := col.Loss(); loss != "" {
		b.Error = strings.TrimSpace(b.Error + " (event channel: " + loss + ")")
	}
	kr.Status, kr.Error = col.Verdict(kr)
}

// stuckError is the boot's error when the host ended a stuck guest: why,
// how long after the kernel's fault report the VM ended, and how much of
// that the host's diagnosis took.
func stuckError(cause string, after, diagnosis time.Duration) string {
	msg := "kmodvm ended the VM: " + cause
	if after > 0 {
		msg += fmt.Sprintf("; the VM ended %.1fs after the report (the diagnosis took %.1fs)", after.Seconds(), diagnosis.Seconds())
	}
	return msg
}

// stderrOf returns QEMU's own words, if any, to follow a message.
func stderrOf(res *qemu.Result) string {
	if s := strings.TrimSpace(res.Stderr); s != "" {
		return ": " + s
	}
	return ""
}
