package run

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// guestImage is one kernel's guest image and what was put in it.
type guestImage struct {
	path string
	// layers are the archives path concatenates, for repro.sh: the
	// cached ones, then the run's configuration kept in the kernel's
	// directory.
	layers  []string
	run     event.RunConfig
	modules []symbol.Module // the host's .ko files
}

// image assembles the kernel's guest image: cached layers plus this run's
// configuration, the modules built and, with coverage, the directories
// they were built in with gcov profiling (the agent sends their gcov
// data).
func (run *kernelRun) image(ctx context.Context) (*guestImage, error) {
	r, k, m, dir := run.r, run.k, run.m, run.dir
	var kos, gcovDirs []string
	for _, b := range run.built {
		kos = append(kos, b.Path)
	}
	for _, b := range run.gcov {
		gcovDirs = append(gcovDirs, b.buildDir)
	}
	a, err := arch.Lookup(k.Arch)
	if err != nil {
		return nil, err
	}
	g := r.guestLayers(ctx, a.Name)
	if g.err != nil {
		return nil, g.err
	}
	ports := 2 + len(interactivePorts(r.cfg)) // console, events, ...
	kl, mods, err := r.images.Kernel(ctx, initramfs.KernelLayer{ModulesDir: k.ModulesDir, Modules: kos,
		Early: a.PortModules(ports)})
	if err != nil {
		return nil, err
	}
	for i := range mods {
		if !mods[i].Dep {
			mods[i].Params = r.cfg.ParamsFor(mods[i].Name)
		}
	}
	// The binaries' timeouts are the kernel's: a KASAN kernel runs the
	// same tests several times slower.
	bins := append([]event.TestBinary{}, g.binaries...)
	for i := range bins {
		bins[i].Timeout = event.Duration(m.testTimeout)
		bins[i].FaultGrace = event.Duration(m.faultGrace)
	}
	var fuzzLayers []string
	if f := r.cfg.Fuzz; f != nil {
		layers, bin, err := fuzzJob(f, a, mods, m, dir, 0)
		if err != nil {
			return nil, err
		}
		fuzzLayers, bins = layers, append(bins, bin)
	}
	cfg := event.RunConfig{Modules: mods, Tests: bins, Unload: true, Control: r.cfg.Interactive(), FaultGrace: event.Duration(m.faultGrace),
		Kmemleak: slices.Contains(m.profile.Sanitizers, "kmemleak") && len(kos) > 0,
		KUnit:    m.profile.KUnit && len(kos) > 0, Coverage: gcovDirs}
	if r.cfg.InjectFaults {
		cfg.InjectFaults = &event.FaultSweep{Tests: true}
		if run.shares > 1 {
			cfg.InjectFaults.Shares = run.shares
		}
	}
	if p := r.cfg.ScopeFaults; p > 0 {
		cfg.ScopeFaults = &event.FaultScope{Probability: p}
	}
	runLayer := filepath.Join(dir, "initramfs-run.cpio")
	if err := initramfs.WriteRun(runLayer, cfg); err != nil {
		return nil, err
	}
	img := &guestImage{path: filepath.Join(dir, ".initramfs.cpio"), run: cfg,
		layers: append(append(append(append([]string{}, g.layers...), kl), fuzzLayers...), runLayer)}
	if r.cfg.Keep {
		img.path = filepath.Join(dir, "initramfs.cpio")
	}
	return img, initramfs.Concat(img.path, img.layers...)
}

// again returns the image of the n-th reboot: img's layers with run as
// the run's configuration, written beside img's files under names of its
// own (img's stay for repro.sh).
func (img *guestImage) again(run event.RunConfig, n int) (*guestImage, error) {
	last := len(img.layers) - 1
	runLayer := runcfg.ArtifactName(img.layers[last], n)
	if err := initramfs.WriteRun(runLayer, run); err != nil {
		return nil, err
	}
	next := &guestImage{path: runcfg.ArtifactName(img.path, n), run: run, modules: img.modules,
		layers: append(append([]string{}, img.layers[:last]...), runLayer)}
	return next, initramfs.Concat(next.path, next.layers...)
}

// guestBuild is the one build of the guest layers the kernels wait for.
type guestBuild struct {
	done  chan struct{}
	parts guestParts
}

// guestParts are the kernel-independent image layers.
type guestParts struct {
	layers   []string
	binaries []event.TestBinary
	err      error
	took     time.Duration
}

// guestLayers returns the kernel-independent layers of an architecture's
// guests, built once per run under the run's context; a kernel whose own
// context ends stops waiting for them, but not the build. A build that
// failed because the run was canceled is not kept: it says nothing about
// the layers.
func (r *runner) guestLayers(ctx context.Context, arch string) guestParts {
	r.guestMu.Lock()
	b := r.guest[arch]
	if b == nil {
		b = &guestBuild{done: make(chan struct{})}
		if r.guest == nil {
			r.guest = map[string]*guestBuild{}
		}
		r.guest[arch] = b
		r.guestRun.Add(1)
		go func() {
			defer r.guestRun.Done()
			b.parts = r.buildGuest(r.ctx, arch)
			if b.parts.err != nil && r.ctx.Err() != nil {
				r.guestMu.Lock()
				delete(r.guest, arch)
				r.guestMu.Unlock()
			}
			close(b.done)
		}()
	}
	r.guestMu.Unlock()
	select {
	case <-b.done:
		return b.parts
	case <-ctx.Done():
		return guestParts{err: fmt.Errorf("guest image: %w", context.Cause(ctx))}
	}
}

// buildGuest builds the base layer and the test packages' layers for the
// guests of an architecture.
func (r *runner) buildGuest(ctx context.Context, arch string) guestParts {
	start := time.Now()
	images := *r.images
	images.Arch = arch
	base, err := images.Base(ctx)
	if err != nil {
		return guestParts{err: fmt.Errorf("guest image base: %w", err)}
	}
	layers := []string{base}
	if r.cfg.Shell != nil {
		shell, err := images.Shell(ctx)
		if err != nil {
			return guestParts{err: fmt.Errorf("guest image shell: %w", err)}
		}
		layers = append(layers, shell)
	}
	var pkgs []initramfs.TestPackage
	for _, d := range r.cfg.Tests {
		pkgs = append(pkgs, initramfs.TestPackage{Dir: d})
	}
	tests, bins, err := images.Tests(ctx, pkgs)
	if err != nil {
		return guestParts{err: fmt.Errorf("guest tests: %w", err)}
	}
	for i := range bins {
		bins[i].Args = append(bins[i].Args, r.cfg.TestArgs...)
	}
	return guestParts{layers: append(layers, tests...), binaries: bins, took: time.Since(start)}
}
