package vmtest

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
func (r *runner) boot(ctx context.Context, k *kernel.Kernel, img *guestImage, m machine, kr *report.Kernel, dir string, run int) *collector {
	snap := r.cfg.UseSnapshots() && len(img.layers) > 1
	for attempt := 1; attempt <= maxBootAttempts; attempt++ {
		res, col, console, err := r.bootOnce(ctx, k, img, m, dir, kr.Selector, kr.Name, run, snap)
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
		infra := err != nil || res.Exit == qemu.ExitCrash || res.Exit == qemu.ExitQEMUError || (!col.hello && res.Exit != qemu.ExitPanic && res.Exit != qemu.ExitCanceled)
		// A PVH entry runs C code before the kernel has set itself up: a
		// KASAN-instrumented one faults there and the guest resets at once.
		// The bzImage's own decompressor boots such kernels.
		if !col.hello && res.Exit == qemu.ExitReset && m.image == k.Vmlinux && k.BzImage != "" && attempt < maxBootAttempts {
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
		r.settle(k, res, col, console, err, attempt, kr, dir, run, img.modules)
		if err := keepGcda(col, dir, run); err != nil {
			kr.Note = strings.TrimSpace(kr.Note + " Coverage: " + err.Error())
		}
		if r.hooks.test != nil {
			r.hooks.test(kr.Selector, kr.Name, liveTest{VM: kr})
		}
		return col
	}
	return nil
}

// bootOnce runs one VM, decoding its events as they arrive.
func (r *runner) bootOnce(ctx context.Context, k *kernel.Kernel, img *guestImage, m machine, dir, sel, name string, run int, snap bool) (*qemu.Result, *collector, []byte, error) {
	var files [3]*artifact
	for i, n := range vmFiles {
		n = runcfg.ArtifactName(n, run)
		os.Remove(filepath.Join(dir, n))
		a, err := createArtifact(filepath.Join(dir, n))
		if err != nil {
			closeArtifacts(files[:i])
			return &qemu.Result{}, newCollector(&report.Kernel{}, nil, nil), nil, err
		}
		files[i] = a
	}
	consoleFile, eventsFile, dmesgFile := files[0], files[1], files[2]

	console := &tailBuffer{max: maxConsoleScan}
	var consoleMu sync.Mutex
	col := newCollector(&report.Kernel{}, dmesgFile, func(d string) { r.step(sel, name, PhaseTests, d) })
	if r.hooks.test != nil {
		col.live = func(lt liveTest) { r.hooks.test(sel, name, lt) }
	}
	pr, pw := io.Pipe()
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		decodeEvents(pr, col, func() { r.step(sel, name, PhaseTests, "") })
	}()
	r.step(sel, name, PhaseBoot, "")
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
	var res *qemu.Result
	var err error
	if snap {
		res, col.snapshot, err = r.runSnapshot(ctx, qcfg, k, img, m, dir)
	} else {
		res, err = r.runVM(ctx, qcfg, k, img, dir)
	}
	pw.Close()
	<-decoded
	if aerr := closeArtifacts(files[:]); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if res == nil {
		res = &qemu.Result{Exit: qemu.ExitQEMUError}
	}
	if col.hello {
		col.kernel.Timing.Boot = col.helloAt.Sub(vmStart).Seconds()
		col.kernel.Timing.Tests = time.Since(col.helloAt).Seconds()
	}
	consoleMu.Lock()
	defer consoleMu.Unlock()
	return res, col, console.Bytes(), err
}

// decodeEvents feeds the events read from r to col until r ends, and then
// the decoder's counts of what it skipped; onHello runs when the agent says
// hello. It reads r to its end whatever arrives, so the writer never blocks.
func decodeEvents(r io.Reader, col *collector, onHello func()) {
	dec := event.NewDecoder(r)
	for {
		ev, err := dec.Next()
		if err != nil {
			io.Copy(io.Discard, r)
			col.stats = dec.Stats()
			return
		}
		if ev.Type == event.Hello {
			onHello()
		}
		col.handle(ev)
	}
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
func (r *runner) settle(k *kernel.Kernel, res *qemu.Result, col *collector, console []byte, err error, attempt int, kr *report.Kernel, dir string, run int, mods []symbol.Module) {
	for _, n := range vmFiles {
		n = runcfg.ArtifactName(n, run)
		kr.Files[n] = filepath.Join(dir, n)
	}
	if p := filepath.Join(dir, runcfg.ReproScript); run == 0 && fileExists(p) {
		kr.Files[runcfg.ReproScript] = p
	}
	b := &report.Boot{Status: report.Pass, Exit: string(res.Exit), Accel: string(res.Accel), Attempt: attempt, Console: kr.Files[runcfg.ArtifactName(runcfg.ConsoleLog, run)], Snapshot: col.snapshot}
	kr.Boot = b
	kr.Modules = col.kernel.Modules
	kr.Timing.Boot, kr.Timing.Tests = col.kernel.Timing.Boot, col.kernel.Timing.Tests
	col.kernel = kr
	vmEnd := report.Crash
	switch {
	case err != nil:
		b.Status, b.Error = report.Error, err.Error()
	case res.Exit == qemu.ExitPanic:
		b.Status, b.Error, vmEnd = report.Crash, "kernel panic: "+strings.TrimSpace(res.Panic), report.Crash
	case res.Exit == qemu.ExitTimeout:
		b.Status, b.Error, vmEnd = report.Timeout, "the VM did not finish in time", report.Timeout
		b.Hang = hangReport(res, kr, mods)
		col.vmDump = res.SysRq
	case res.Exit == qemu.ExitCanceled:
		b.Status, b.Error, vmEnd = report.Error, "interrupted", report.NotRun
	case res.Exit == qemu.ExitQEMUError && !col.hello:
		b.Status, b.Error = report.Error, fmt.Sprintf("QEMU could not start the VM (%s)%s", res.ExitStatus, stderrOf(res))
	case !col.hello:
		b.Status, b.Error = report.Error, fmt.Sprintf("the guest agent never started (QEMU: %s, %s); see console.log%s", res.Exit, res.ExitStatus, stderrOf(res))
	case res.Exit == qemu.ExitCrash || res.Exit == qemu.ExitQEMUError:
		b.Status, b.Error = report.Error, fmt.Sprintf("QEMU died (%s)%s", res.ExitStatus, stderrOf(res))
	case res.Exit == qemu.ExitReset:
		b.Status, b.Error = report.Crash, "the guest reset (triple fault or reboot)"
	case !col.done:
		b.Status, b.Error = report.Crash, "the guest powered off without finishing"
	}
	if b.Status == report.Error && attempt > 1 {
		b.Error += fmt.Sprintf(" (after %d attempts)", attempt)
	}
	col.finish(console, vmEnd)
	if loss := col.channelLoss(); loss != "" {
		b.Error = strings.TrimSpace(b.Error + " (event channel: " + loss + ")")
	}
	kr.Status, kr.Error = verdict(kr, col)
}

// stderrOf returns QEMU's own words, if any, to follow a message.
func stderrOf(res *qemu.Result) string {
	if s := strings.TrimSpace(res.Stderr); s != "" {
		return ": " + s
	}
	return ""
}

// verdict decides a kernel's status from its parts.
func verdict(kr *report.Kernel, col *collector) (report.Status, string) {
	b := kr.Boot
	if b.Status == report.Error {
		return report.Error, b.Error
	}
	var why []string
	if b.Status != report.Pass {
		why = append(why, b.Error)
	}
	if col.doneErr != "" {
		why = append(why, "agent: "+col.doneErr)
	}
	for _, m := range kr.Modules {
		if m.Load != report.Pass {
			why = append(why, fmt.Sprintf("loading %s failed: %s", m.Name, m.Error))
		}
	}
	nfail := 0
	for _, t := range kr.Tests {
		if t.Status.Failed() {
			nfail++
		}
	}
	if nfail > 0 {
		why = append(why, fmt.Sprintf("%d test(s) failed", nfail))
	}
	for _, f := range kr.Findings {
		if f.Blames() {
			why = append(why, fmt.Sprintf("%s %s: %s", f.Kind, f.Where(), f.Title))
		}
	}
	// A lost line may have been a test's end or a kernel warning: a run
	// that ended well but lost some has no verdict (its tests' failures may
	// be the loss's doing).
	if loss := col.channelLoss(); loss != "" && b.Status == report.Pass {
		return report.Error, strings.Join(append([]string{"the event channel from the guest was damaged (" + loss + "): the results are incomplete"}, why...), "; ")
	}
	if len(why) > 0 {
		return report.Fail, strings.Join(why, "; ")
	}
	return report.Pass, ""
}
