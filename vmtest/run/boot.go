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
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// pvhResetNote is the kernel's note when its PVH vmlinux reset the guest.
const pvhResetNote = "The PVH vmlinux reset the guest before it started; kmodvm booted the bzImage."

// vmFiles are the files every VM of a kernel writes as it runs, in the
// order bootOnce opens them.
var vmFiles = []string{runcfg.ConsoleLog, runcfg.EventsFile, runcfg.DmesgFile}

// maxBootAttempts: a VM that never reaches the agent, or a QEMU that dies,
// is an infrastructure error and is tried once more.
const maxBootAttempts = 2

// boot runs v (again, once, if the infrastructure failed), fills v's
// report with what happened and returns the collector of the VM it settled
// on.
func (run *kernelRun) boot(ctx context.Context, v vmPlan) *collect.Collector {
	k, kr := run.k, v.entry
	snap := run.r.cfg.UseSnapshots() && len(v.img.layers) > 1
	if why := arch.Must(k.Arch).NoSnapshot; snap && why != "" {
		if v.n == 0 { // once per kernel, not per reboot
			run.r.logf("%s: no snapshot on %s (%s); booting", kr.Name, arch.Must(k.Arch), why)
		}
		snap = false
	}
	for attempt := 1; attempt <= maxBootAttempts; attempt++ {
		end := run.bootOnce(ctx, v, snap)
		res, col, err := end.res, end.col, end.err
		_, hello := col.Hello()
		// A KASAN kernel's PVH entry resets the guest (see below): its
		// snapshot is its bzImage's.
		if snap && errors.Is(err, errIdleReset) && v.m.image == k.Vmlinux && k.BzImage != "" {
			v.m.image = k.BzImage
			kr.Note = strings.TrimSpace(kr.Note + " " + pvhResetNote)
			attempt--
			continue
		}
		// A snapshot that could not be used costs a boot, never a result.
		if snap && errors.Is(err, errSnapshotUnused) {
			run.r.logf("%s: %v; booting", kr.Name, err)
			snap = false
			attempt--
			continue
		}
		infra := err != nil || res.Exit == qemu.ExitCrash || res.Exit == qemu.ExitQEMUError || (!hello && res.Exit != qemu.ExitPanic && res.Exit != qemu.ExitCanceled)
		// A PVH entry runs C code before the kernel has set itself up: a
		// KASAN-instrumented one faults there and the guest resets at once.
		// The bzImage's own decompressor boots such kernels.
		if !hello && res.Exit == qemu.ExitReset && v.m.image == k.Vmlinux && k.BzImage != "" && attempt < maxBootAttempts {
			v.m.image = k.BzImage
			kr.Note = strings.TrimSpace(kr.Note + " " + pvhResetNote)
			continue
		}
		// A missing QEMU stays missing, a full disk full: trying again only
		// delays the news.
		var aerr *artifactError
		if infra && attempt < maxBootAttempts && ctx.Err() == nil && !errors.Is(err, qemu.ErrNoQEMU) && !errors.As(err, &aerr) {
			continue
		}
		run.settle(v, end, attempt)
		if err := keepGcda(col, run.dir, v.n); err != nil {
			kr.Note = strings.TrimSpace(kr.Note + " Coverage: " + err.Error())
		}
		run.vmEnded(kr)
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
	// stuckAfter, for a VM ended as stuck, is the time from the host's
	// reading of the kernel's fault report to the VM's end, and
	// diagnosis the part of it after the order to end it.
	stuckAfter, diagnosis time.Duration
}

// bootOnce runs v's VM once, from the kernel's snapshot with snap,
// decoding its events as they arrive and watching it for a guest stuck
// after a kernel fault.
func (run *kernelRun) bootOnce(ctx context.Context, v vmPlan, snap bool) vmResult {
	files, err := openArtifacts(run.dir, v.n)
	if err != nil {
		return vmResult{res: &qemu.Result{}, col: collect.New(collect.Options{}), err: err}
	}
	console := &tailBuffer{max: maxConsoleScan}
	var consoleMu sync.Mutex
	watch := watchStuck(run.stuckGrace(v))
	col := run.collector(files[2], watch, v.img.run.Tests, v.fuzzJob)
	pr, pw := io.Pipe()
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		col.Decode(pr, func() { run.step(runcfg.PhaseTests, "") })
	}()
	run.step(runcfg.PhaseBoot, "")
	vmStart := time.Now()
	qcfg := run.qemuConfig(v, []qemu.Port{
		{Name: "console", Output: lockedWriter{&consoleMu, io.MultiWriter(files[0], console, watch)}},
		{Name: "events", Output: io.MultiWriter(files[1], pw), Param: event.ParamEvents},
	})
	qcfg.Stuck = watch.ends
	// repro.sh stays the first VM's: the one a crash or hang ended.
	if cfg := run.r.cfg; !cfg.Interactive() && v.n == 0 {
		if rerr := writeRepro(run.dir, qcfg, v.img.layers, cfg.Keep); rerr != nil && cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "%s: repro.sh: %v\n", run.entry.Name, rerr)
		}
	}
	end := run.runOnce(ctx, qcfg, v, snap, watch)
	end.col = col
	pw.Close()
	<-decoded
	run.keepAgentRing(col, v)
	if aerr := closeArtifacts(files[:]); aerr != nil {
		end.err = errors.Join(end.err, aerr)
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

// runOnce runs qcfg's VM (from the snapshot with snap) to its end, and
// ends watch.
func (run *kernelRun) runOnce(ctx context.Context, qcfg qemu.Config, v vmPlan, snap bool, watch *stuckWatch) vmResult {
	var end vmResult
	if snap {
		end.res, end.snapshot, end.err = run.runSnapshot(ctx, qcfg, v)
	} else {
		end.res, end.err = run.runVM(ctx, qcfg, v.img)
	}
	faultAt, endedAt := watch.close()
	if end.res == nil {
		end.res = &qemu.Result{Exit: qemu.ExitQEMUError}
	}
	if end.res.Exit == qemu.ExitStuck && !faultAt.IsZero() {
		end.stuckAfter, end.diagnosis = time.Since(faultAt), time.Since(endedAt)
	}
	return end
}

// stuckGrace is how long v's guest may send nothing after a kernel fault
// before the host ends it as stuck: the fault grace, the agent's own for
// a test binary. None when a person drives the VM.
func (run *kernelRun) stuckGrace(v vmPlan) time.Duration {
	if run.r.cfg.Interactive() {
		return 0
	}
	return v.m.faultGrace
}

// openArtifacts creates the files VM number n of the kernel writes in dir
// (vmFiles' order), removing what an earlier run left.
func openArtifacts(dir string, n int) ([3]*artifact, error) {
	var files [3]*artifact
	for i, name := range vmFiles {
		name = runcfg.ArtifactName(name, n)
		os.Remove(filepath.Join(dir, name))
		a, err := createArtifact(filepath.Join(dir, name))
		if err != nil {
			closeArtifacts(files[:i])
			return files, err
		}
		files[i] = a
	}
	return files, nil
}

// collector returns a collector for a VM of the kernel running bins,
// writing the kernel log to dmesg, telling the run's progress and hooks of
// the tests (and of fuzz job fuzzJob's status, if not 0), and watch of
// the events and the kernel log.
func (run *kernelRun) collector(dmesg io.Writer, watch *stuckWatch, bins []event.TestBinary, fuzzJob int) *collect.Collector {
	sel, name := run.entry.Selector, run.entry.Name
	opts := collect.Options{Dmesg: dmesg, Progress: func(d string) { run.step(runcfg.PhaseTests, d) },
		Heard: watch.heard, Record: watch.record, Order: run.testOrder(bins), Allow: run.r.allow,
		Output: run.fuzzStatus(fuzzJob), Scoped: run.r.cfg.ScopeFaults > 0}
	if test := run.r.hooks.Test; test != nil {
		opts.Live = func(lt collect.Live) { test(sel, name, lt) }
	}
	return collect.New(opts)
}

// qemuConfig is the QEMU of v, with the console and events ports given
// and the interactive ones the run needs.
func (run *kernelRun) qemuConfig(v vmPlan, ports []qemu.Port) qemu.Config {
	k, cfg := run.k, run.r.cfg
	qcfg := qemu.Config{
		Arch:      k.Arch,
		Kernel:    v.m.image,
		Initrd:    v.img.path,
		MemoryMiB: v.m.memoryMiB,
		CPUs:      v.m.cpus,
		Append:    v.m.append,
		Accel:     run.r.accelFor(k.Arch),
		Serial:    append(ports, interactivePorts(cfg)...),
		SystemMap: k.SystemMap,
		Timeout:   run.budget.vmTimeout(v.m, len(v.img.run.Tests)),
		GDB:       gdbChardev(cfg),
	}
	if cfg.Interactive() {
		qcfg.Timeout = interactiveTimeout
	}
	return qcfg
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
