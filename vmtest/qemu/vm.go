package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Time limits of the end of a run.
const (
	quitTimeout = 2 * time.Second  // QEMU's answer to quit, and its exit
	regsTimeout = 5 * time.Second  // "info registers" on a hung guest
	nmiWait     = 10 * time.Second // the guest's NMI panic, printed under TCG
)

// vm is one running QEMU process and its helpers.
type vm struct {
	cfg     Config
	cmd     *exec.Cmd
	start   time.Time
	exited  chan struct{} // closed after cmd.Wait returned
	console *console
	mon     *monitor
	stderr  tail
	readers sync.WaitGroup
	res     Result
}

// Run boots the VM described by cfg and waits until it ends: the guest
// powers off, resets, panics, the deadline (ctx or cfg.Timeout) passes, or
// QEMU dies. The returned error is set only when QEMU could not be started;
// every way a started VM can end is a Result. When Run returns, QEMU has
// exited, every helper goroutine has ended, the caller's writers are no longer
// used and the temporary directory is gone.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Kernel == "" || cfg.Initrd == "" {
		return nil, errors.New("qemu: Config.Kernel and Config.Initrd are required")
	}
	for _, p := range []string{cfg.Kernel, cfg.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("qemu: %w", err)
		}
	}
	bin, err := cfg.binary()
	if err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		var release func()
		if dir, release, err = makeWorkDir(); err != nil {
			return nil, err
		}
		defer release()
	}
	sock := filepath.Join(dir, "qmp.sock")
	defer os.Remove(sock)

	v := &vm{cfg: cfg, exited: make(chan struct{})}
	v.res.Accel = cfg.Accel.Resolve()
	if err := v.startProcess(bin, cfg.Args(v.res.Accel, sock)); err != nil {
		return nil, err
	}
	v.supervise(ctx, sock)
	v.readers.Wait()
	return &v.res, nil
}

// startProcess starts QEMU with the two serial ports on pipes. QEMU gets its
// own process group (so it and anything it starts are killed together) and
// Pdeathsig: the kernel kills it when the thread that started it ends. That
// thread is locked to the goroutine that waits for QEMU, so it ends only when
// QEMU has exited or the host process died: no QEMU outlives kmodvm.
func (v *vm) startProcess(bin string, args []string) error {
	conR, conW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		conR.Close()
		conW.Close()
		return fmt.Errorf("qemu: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{conW, evW}
	cmd.Stdout, cmd.Stderr = &v.stderr, &v.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	v.readers.Add(1)
	go func() {
		defer v.readers.Done()
		// Never unlocked: the thread exits with this goroutine, after
		// QEMU did.
		runtime.LockOSThread()
		v.start = time.Now()
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		_ = cmd.Wait()
		close(v.exited)
	}()
	err = <-started
	conW.Close()
	evW.Close()
	if err != nil {
		conR.Close()
		evR.Close()
		return fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	v.cmd = cmd
	v.console = newConsole(v.cfg.Console, v.start, v.cfg.OnPanic)
	v.readers.Add(2)
	go func() { defer v.readers.Done(); v.console.run(conR) }()
	go func() { defer v.readers.Done(); drain(v.cfg.Events, evR) }()
	return nil
}

// supervise connects QMP, waits for the end of the run and fills v.res.
func (v *vm) supervise(ctx context.Context, sock string) {
	timeout := v.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	mon, err := connectMonitor(sock, v.exited)
	if err != nil {
		v.noMonitor(err)
		return
	}
	v.mon = mon
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
			v.quit()
		case <-ctx.Done():
			reason := ExitCanceled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				reason = ExitTimeout
				v.diagnoseHang()
			}
			v.kill()
			<-v.exited
			mon.close()
			v.res.ShutdownReason, _ = mon.state()
			v.finish(reason)
			return
		}
	}
}

// noMonitor ends a run whose QMP connection failed.
func (v *vm) noMonitor(err error) {
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
func (v *vm) classify() ExitReason {
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
	// QEMU exits 1 by itself when it cannot set the machine up (bad
	// kernel, bad option); anything else without a SHUTDOWN is a crash.
	if ws, ok := v.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Exited() && ws.ExitStatus() != 0 && shutdown == "" {
		return ExitQEMUError
	}
	return ExitCrash
}

// finish records the process state and the reason.
func (v *vm) finish(reason ExitReason) {
	v.res.Exit = reason
	v.res.Duration = time.Since(v.start)
	if ps := v.cmd.ProcessState; ps != nil {
		v.res.ExitStatus = ps.String()
	}
	v.res.Stderr = dropWaitNotice(v.stderr.String())
	if reason != ExitTimeout && reason != ExitCanceled {
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
func (v *vm) quit() {
	_, _ = v.mon.run("quit", nil, quitTimeout)
	select {
	case <-v.exited:
	case <-time.After(quitTimeout):
		v.kill()
	}
}

// kill sends SIGKILL to QEMU's process group.
func (v *vm) kill() {
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
}

// diagnoseHang records what the host can learn about a hung guest before it
// is killed: every CPU's registers from QEMU, then the guest kernel's own
// symbolized backtrace, forced by an NMI that the kernel turns into a panic
// (unknown_nmi_panic, which Run puts on the command line).
func (v *vm) diagnoseHang() {
	regs, err := v.mon.hmp("info registers -a", regsTimeout)
	if err != nil {
		v.res.Registers = err.Error()
	} else {
		v.res.Registers = regs
		var syms *Symbols
		if v.cfg.SystemMap != "" {
			syms, _ = LoadSymbols(v.cfg.SystemMap)
		}
		for _, rip := range ParseRIPs(regs) {
			v.res.RIP = append(v.res.RIP, syms.Lookup(rip))
		}
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
