package qemu

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"time"
)

// Time limits of the end of a run.
const (
	quitTimeout = 2 * time.Second // QEMU's answer to quit, and its exit
	regsTimeout = 5 * time.Second // "info registers" on a hung guest
	ipSamples   = 8               // looks at each hung CPU's instruction pointer
	ipSampleGap = 30 * time.Millisecond
	nmiWait     = 10 * time.Second // the guest's NMI panic, printed under TCG
	sysrqWait   = 8 * time.Second  // the SysRq dumps, printed under TCG
	sysrqQuiet  = time.Second      // a console this long silent has printed them
	// The diagnosis of a guest its caller judged stuck (Config.Stuck)
	// is the deadline's without the NMI, and shorter: the kernel already
	// reported a fault, and the caller wants the VM's end soon after.
	stuckSysrqWait = 6 * time.Second
	stuckRegsTime  = 2 * time.Second
)

// DiagnosisTime bounds the hang diagnosis done at a VM's deadline, before
// it is killed: a caller that must end by a time sets Config.Timeout this
// much earlier.
const DiagnosisTime = sysrqWait + regsTimeout + nmiWait

// StuckDiagnosisTime bounds the diagnosis of a VM ended through
// Config.Stuck, before it is killed.
const StuckDiagnosisTime = stuckSysrqWait + stuckRegsTime

// supervise waits for the end of the run and fills v.res.
func (v *VM) supervise(ctx context.Context) {
	mon := v.mon
	defer mon.close()
	grace := v.cfg.PanicGrace
	if grace <= 0 {
		grace = DefaultPanicGrace
	}
	var graceTimer <-chan time.Time
	panicCh := v.console.panicCh
	for {
		select {
		case <-v.exited:
			mon.close()
			v.finish(v.classify())
			return
		case <-panicCh:
			panicCh = nil
			graceTimer = time.After(grace)
		case <-graceTimer:
			v.saveShareTail()
			v.quit()
		case cause := <-v.cfg.Stuck:
			v.res.Cause = cause
			v.res.SysRq = v.pressSysRq(stuckSysrqWait)
			v.sampleIPs(stuckRegsTime)
			v.saveShareTail()
			v.end(ExitStuck)
			return
		case <-ctx.Done():
			reason := ExitCanceled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				reason = ExitTimeout
				v.saveShareTail()
				v.diagnoseHang()
			}
			v.end(reason)
			return
		}
	}
}

// end kills QEMU, waits for its exit and records reason.
func (v *VM) end(reason ExitReason) {
	v.kill()
	<-v.exited
	v.mon.close()
	v.res.ShutdownReason, _ = v.mon.state()
	v.finish(reason)
}

// noMonitor ends a run whose QMP connection failed.
func (v *VM) noMonitor(err error) {
	// A handshake cut short by QEMU's exit is explained by its stderr;
	// only a QEMU that is still there needs our error.
	select {
	case <-v.exited:
		err = errExited
	case <-time.After(time.Second):
	}
	v.kill()
	<-v.exited
	v.finish(ExitQEMUError)
	if !errors.Is(err, errExited) {
		v.res.Stderr = err.Error() + "\n" + v.res.Stderr
	}
}

// classify names the end of a run that QEMU ended by itself.
func (v *VM) classify() ExitReason {
	shutdown, panicked := v.mon.state()
	v.res.ShutdownReason = shutdown
	line, _ := v.console.panicked()
	switch {
	case line != "" || panicked || shutdown == "guest-panic":
		return ExitPanic
	case shutdown == "guest-shutdown":
		return ExitPoweroff
	case shutdown == "guest-reset":
		return ExitReset
	}
	ws, ok := v.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Exited() && ws.ExitStatus() == 0 && shutdown == "" && v.arch.PoweroffExits {
		return ExitPoweroff
	}
	// QEMU exits 1 by itself when it cannot set the machine up (bad
	// kernel, bad option); anything else without a SHUTDOWN is a crash.
	if ok && ws.Exited() && ws.ExitStatus() != 0 && shutdown == "" {
		return ExitQEMUError
	}
	return ExitCrash
}

// finish records the process state and the reason.
func (v *VM) finish(reason ExitReason) {
	v.res.Exit = reason
	v.res.Duration = time.Since(v.start)
	if ps := v.cmd.ProcessState; ps != nil {
		v.res.ExitStatus = ps.String()
	}
	v.res.Stderr = dropWaitNotice(v.stderr.String())
	if reason != ExitTimeout && reason != ExitCanceled && reason != ExitStuck {
		v.res.Panic, v.res.PanicAt = v.console.panicked()
	}
}

// dropWaitNotice removes the line QEMU prints on every start while it waits
// for the QMP connection, so that Stderr holds only what went wrong.
func dropWaitNotice(stderr string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(stderr, "\n") {
		if !strings.Contains(line, "info: QEMU waiting for connection on:") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// quit asks QEMU to exit and kills it if it does not in time.
func (v *VM) quit() {
	_, _ = v.mon.run("quit", nil, quitTimeout)
	select {
	case <-v.exited:
	case <-time.After(quitTimeout):
		v.kill()
	}
}

// kill sends SIGKILL to QEMU's process group.
func (v *VM) kill() {
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
}

// diagnoseHang records what the host can learn about a hung guest before it
// is killed: the guest's blocked tasks and CPUs (SysRq w and l, pressed on
// its keyboard), every CPU's registers from QEMU, then the guest kernel's
// own symbolized backtrace, forced by an NMI that the kernel turns into a
// panic (the architecture's Crash.NMIParams, on every command line), where
// QEMU has NMIs for the machine (Crash.NMI).
func (v *VM) diagnoseHang() {
	v.res.SysRq = v.pressSysRq(sysrqWait)
	v.sampleIPs(regsTimeout)
	if !v.arch.Crash.NMI {
		return
	}
	v.console.startCapture()
	if _, err := v.mon.run("inject-nmi", nil, regsTimeout); err != nil {
		v.res.Backtrace = err.Error()
		return
	}
	select {
	case <-v.exited:
	case <-time.After(nmiWait):
	}
	v.res.Backtrace = v.console.captured()
}

// sampleIPs reads every CPU's registers, then samples their instruction
// pointers ipSamples times in all, ipSampleGap apart, within limit: a
// CPU spinning in a module is now and then in the kernel's interrupt code,
// and one look at it may land there (seen on arm64, where no NMI backtrace
// follows). The first reading's registers are the report's.
func (v *VM) sampleIPs(limit time.Duration) {
	deadline := time.Now().Add(limit)
	var syms *Symbols
	if v.cfg.SystemMap != "" {
		syms, _ = LoadSymbols(v.cfg.SystemMap)
	}
	for i := 0; i < ipSamples; i++ {
		left := time.Until(deadline)
		if i > 0 {
			if left < 2*ipSampleGap {
				return
			}
			time.Sleep(ipSampleGap)
			left -= ipSampleGap
		}
		regs, err := v.mon.hmp("info registers -a", left)
		if err != nil {
			if i == 0 {
				v.res.Registers = err.Error()
			}
			return
		}
		if i == 0 {
			v.res.Registers, v.res.IPRegister = regs, v.arch.Crash.IPRegister
		}
		for cpu, ip := range v.arch.IPs(regs) {
			if cpu == len(v.res.IP) {
				v.res.IP = append(v.res.IP, nil)
			}
			v.res.IP[cpu] = append(v.res.IP[cpu], syms.Lookup(ip))
		}
	}
}

// pressSysRq asks the guest for its blocked tasks and every CPU's
// backtrace with SysRq keys on its keyboard, and returns what the console
// printed until it was quiet, within wait. An interrupt-driven keyboard reaches the kernel while user space
// and even the agent are stuck; it needs only a CPU that takes interrupts.
// SysRq 8 first: under "quiet" the dumps' records are below the console's
// level. The kernel log stream carries them too, if the agent still reads
// it.
func (v *VM) pressSysRq(wait time.Duration) string {
	keys := v.arch.Crash.SysRq
	if len(keys) == 0 {
		return ""
	}
	v.console.startCapture()
	for _, k := range []string{"8", "w", "l"} {
		var qcodes []map[string]string
		for _, q := range append(append([]string{}, keys...), k) {
			qcodes = append(qcodes, map[string]string{"type": "qcode", "data": q})
		}
		if _, err := v.mon.run("send-key", map[string]any{"keys": qcodes}, regsTimeout); err != nil {
			return "(SysRq " + k + " not pressed: " + err.Error() + ")\n" + v.console.takeCapture()
		}
	}
	deadline := time.Now().Add(wait)
	last, quietSince := -1, time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-v.exited:
			return v.console.takeCapture()
		case <-time.After(200 * time.Millisecond):
		}
		if n := v.console.capturedLen(); n != last {
			last, quietSince = n, time.Now()
		} else if n > 0 && time.Since(quietSince) >= sysrqQuiet {
			break
		}
	}
	return v.console.takeCapture()
}
