package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// pvhResetNote is the kernel's note when its PVH vmlinux reset the guest.
const pvhResetNote = "The PVH vmlinux reset the guest before it started; kmodvm booted the bzImage."

// vmFiles are the files every VM of a kernel writes as it runs, in the
// order bootOnce opens them.
var vmFiles = []string{runcfg.ConsoleLog, runcfg.EventsFile, runcfg.DmesgFile}

// maxBootAttempts: a VM that never reaches the agent, or a QEMU that dies,
// is an infrastructure error and is tried once more.
const maxBootAttempts = 2

// boot runs the VM (again, once, if the infrastructure failed), fills kr
// with what happened and returns the collector of the VM it settled on.
// run numbers the kernel's VMs: 0, then one more for each reboot; it names
// their artifacts.
func (r *runner) boot(ctx context.Context, k *kernel.Kernel, img *guestImage, m machine, kr *report.Kernel, dir string, run int) *collect.Collector {
	snap := r.cfg.UseSnapshots() && len(img.layers) > 1
	for attempt := 1; attempt <= maxBootAttempts; attempt++ {
		end := r.bootOnce(ctx, k, img, m, dir, kr.Selector, kr.Name, run, snap)
		res, col, err := end.res, end.col, end.err
		_, hello := col.Hello()
		// A KASAN kernel's PVH entry resets the guest (see below): its
		// snapshot is its bzImage's.
		if snap && errors.Is(err, errIdleReset) && m.image == k.Vmlinux && k.BzImage != "" {
			m.image = k.BzImage
			kr.Note = strings.TrimSpace(kr.Note + " " + pvhResetNote)
			attempt--
			continue
		}
		// A snapshot that could not be used costs a boot, never a result.
		if snap && errors.Is(err, errSnapshotUnused) {
			r.logf("%s: %v; booting", kr.Name, err)
			snap = false
			attempt--
			continue
		}
		infra := err != nil || res.Exit == qemu.ExitCrash || res.Exit == qemu.ExitQEMUError || (!hello && res.Exit != qemu.ExitPanic && res.Exit != qemu.ExitCanceled)
		// A PVH entry runs C code before the kernel has set itself up: a
		// KASAN-instrumented one faults there and the guest resets at once.
		// The bzImage's own decompressor boots such kernels.
		if !hello && res.Exit == qemu.ExitReset && m.image == k.Vmlinux && k.BzImage != "" && attempt < maxBootAttempts {
			m.image = k.BzImage
			kr.Note = strings.TrimSpace(kr.Note + " " + pvhResetNote)
			continue
		}
		// A missing QEMU stays missing, a full disk full: trying again only
		// delays the news.
		var aerr *artifactError
		if infra && attempt < maxBootAttempts && ctx.Err() == nil && !errors.Is(err, qemu.ErrNoQEMU) && !errors.As(err, &aerr) {
			continue
		}
		r.settle(end, attempt, kr, dir, run, img.modules)
		if err := keepGcda(col, dir, run); err != nil {
			kr.Note = strings.TrimSpace(kr.Note + " Coverage: " + err.Error())
		}
		if r.hooks.Test != nil {
			r.hooks.Test(kr.Selector, kr.Name, collect.Live{VM: kr})
		}
		return col
	}
	return nil
}

// vmResult is how one VM ended, and what it sent.
type vmResult struct {
	res     *qemu.Result
	col     *collect.Collector
	console []byte // the console's tail (maxConsoleScan)
	err     error
	// snapshot is how the VM used the kernel's snapshot
	// (report.Boot.Snapshot).
	snapshot string
	// boot and tests are the seconds to the agent's hello and after it
	// (report.Timing), 0 when the agent never said hello.
	boot, tests float64
}

// bootOnce runs one VM, decoding its events as they arrive.
func (r *runner) bootOnce(ctx context.Context, k *kernel.Kernel, img *guestImage, m machine, dir, sel, name string, run int, snap bool) vmResult {
	var files [3]*artifact
	for i, n := range vmFiles {
		n = runcfg.ArtifactName(n, run)
		os.Remove(filepath.Join(dir, n))
		a, err := createArtifact(filepath.Join(dir, n))
		if err != nil {
			closeArtifacts(files[:i])
			return vmResult{res: &qemu.Result{}, col: collect.New(collect.Options{}), err: err}
		}
		files[i] = a
	}
	consoleFile, eventsFile, dmesgFile := files[0], files[1], files[2]

	console := &tailBuffer{max: maxConsoleScan}
	var consoleMu sync.Mutex
	opts := collect.Options{Dmesg: dmesgFile, Progress: func(d string) { r.step(sel, name, runcfg.PhaseTests, d) }}
	if r.hooks.Test != nil {
		opts.Live = func(lt collect.Live) { r.hooks.Test(sel, name, lt) }
	}
	col := collect.New(opts)
	pr, pw := io.Pipe()
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		col.Decode(pr, func() { r.step(sel, name, runcfg.PhaseTests, "") })
	}()
	r.step(sel, name, runcfg.PhaseBoot, "")
	vmStart := time.Now()
	deadline, _ := ctx.Deadline()
	qcfg := qemu.Config{
		Arch:      k.Arch,
		Kernel:    m.image,
		Initrd:    img.path,
		MemoryMiB: m.memoryMiB,
		CPUs:      m.cpus,
		Append:    m.append,
		Accel:     r.accelFor(k.Arch),
		Serial: append([]qemu.Port{
			{Name: "console", Output: lockedWriter{&consoleMu, io.MultiWriter(consoleFile, console)}},
			{Name: "events", Output: io.MultiWriter(eventsFile, pw), Param: event.ParamEvents},
		}, interactivePorts(r.cfg)...),
		SystemMap: k.SystemMap,
		Timeout:   m.vmTimeout(len(img.run.Tests), deadline),
		GDB:       gdbChardev(r.cfg),
	}
	if r.cfg.Interactive() {
		qcfg.Timeout = interactiveTimeout
	} else if run > 0 {
		// repro.sh stays the first VM's: the one a crash or hang ended.
	} else if rerr := writeRepro(dir, qcfg, qcfg.Accel, img.layers, r.cfg.Keep); rerr != nil && r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, "%s: repro.sh: %v\n", name, rerr)
	}
	end := vmResult{col: col}
	if snap {
		end.res, end.snapshot, end.err = r.runSnapshot(ctx, qcfg, k, img, m, dir)
	} else {
		end.res, end.err = r.runVM(ctx, qcfg, k, img, dir)
	}
	pw.Close()
	<-decoded
	if aerr := closeArtifacts(files[:]); aerr != nil {
		end.err = errors.Join(end.err, aerr)
	}
	if end.res == nil {
		end.res = &qemu.Result{Exit: qemu.ExitQEMUError}
	}
	if at, ok := col.Hello(); ok {
		end.boot = at.Sub(vmStart).Seconds()
		end.tests = time.Since(at).Seconds()
	}
	consoleMu.Lock()
	defer consoleMu.Unlock()
	end.console = console.Bytes()
	return end
}

// maxConsoleScan bounds the console kept in memory to scan for findings
// after the VM ends; the file keeps all of it. A panic is at the end.
const maxConsoleScan = 8 << 20

// tailBuffer keeps the last max bytes written to it, from a line start.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		cut := len(t.b) - t.max
		if i := bytes.IndexByte(t.b[cut:], '\n'); i >= 0 {
			cut += i + 1
		}
		t.b = append(t.b[:0], t.b[cut:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.b }

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// settle turns a VM's end and its events into the kernel's verdict.
func (r *runner) settle(end vmResult, attempt int, kr *report.Kernel, dir string, run int, mods []symbol.Module) {
	res, col, err := end.res, end.col, end.err
	for _, n := range vmFiles {
		n = runcfg.ArtifactName(n, run)
		kr.Files[n] = filepath.Join(dir, n)
	}
	if p := filepath.Join(dir, runcfg.ReproScript); run == 0 && fileExists(p) {
		kr.Files[runcfg.ReproScript] = p
	}
	b := &report.Boot{Status: report.Pass, Exit: string(res.Exit), Accel: string(res.Accel), Attempt: attempt, Console: kr.Files[runcfg.ArtifactName(runcfg.ConsoleLog, run)], Snapshot: end.snapshot}
	kr.Boot = b
	kr.Modules = col.Modules()
	kr.Timing.Boot, kr.Timing.Tests = end.boot, end.tests
	_, hello := col.Hello()
	vmEnd, dump := report.Crash, ""
	switch {
	case err != nil:
		b.Status, b.Error = report.Error, err.Error()
	case res.Exit == qemu.ExitPanic:
		b.Status, b.Error, vmEnd = report.Crash, "kernel panic: "+strings.TrimSpace(res.Panic), report.Crash
	case res.Exit == qemu.ExitTimeout:
		b.Status, b.Error, vmEnd = report.Timeout, "the VM did not finish in time", report.Timeout
		b.Hang = hangReport(res, kr, mods)
		dump = res.SysRq
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
	col.Finish(kr, collect.End{Status: vmEnd, Console: end.console, Dump: dump})
	if loss := col.Loss(); loss != "" {
		b.Error = strings.TrimSpace(b.Error + " (event channel: " + loss + ")")
	}
	kr.Status, kr.Error = col.Verdict(kr)
}

// stderrOf returns QEMU's own words, if any, to follow a message.
func stderrOf(res *qemu.Result) string {
	if s := strings.TrimSpace(res.Stderr); s != "" {
		return ": " + s
	}
	return ""
}
