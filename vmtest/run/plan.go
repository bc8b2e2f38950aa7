package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/kernel/srcbuild"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// NewFetcher returns a kernel fetcher over the cache in cacheDir with every
// provider kmodvm has: Debian's archive, local trees and kernels built from
// source (the -debug and -kcsan selectors). buildProgress, if set, hears
// how far a kernel build is.
func NewFetcher(cacheDir string, offline bool, log io.Writer, buildProgress func(name string, done, total int)) *kernel.Fetcher {
	f := debianprov.NewFetcher(&kernel.Cache{Dir: cacheDir}, offline, log)
	f.Use(&srcbuild.Provider{Archive: debianprov.Of(f), Kernels: f, Log: log, Progress: buildProgress,
		Toolchains: &toolchain.Set{Dir: cachedir.Layout{Root: cacheDir}.Toolchains(), Log: log, Offline: offline}})
	return f
}

// planned is one kernel of a run: the selector that named it and what it
// resolved to.
type planned struct {
	sel  string
	spec *kernel.Spec
	// err is why the selector could not be resolved (the archive was
	// unreachable, say): the kernel is reported as an error, the others run.
	err error
	// dir is the kernel's directory under the run's output: its name, or
	// its name and ID when two kernels of the run share a name.
	dir string
	// skip, in a run of several architectures, says why architecture
	// arch has no kernel for the selector that others have (Debian has
	// no i386 6.12): a skipped cell, not a usage error. arch is also set
	// where err is, so that the report puts the error with its
	// architecture.
	skip, arch string
}

func (p planned) name() string {
	switch {
	case p.spec != nil:
		return p.spec.Name
	case p.skip != "":
		return p.sel + " (" + p.arch + ")"
	}
	return p.sel
}

// plan resolves every selector before anything runs, so that a selector
// that names no kernel is a usage error reported at once, and selectors
// that name one kernel twice ("6.1" and "6.1.0-57-amd64") run it once. In
// a run of several architectures, a selector that names a kernel of some
// of them is a skipped cell for the others.
func (r *runner) plan(ctx context.Context, sels, arches []string) ([]planned, error) {
	arches, err := runcfg.Arches(arches)
	if err != nil {
		return nil, &runcfg.ErrConfig{Msg: err.Error()}
	}
	pl := &planning{seen: map[string]int{}, names: map[string]int{}, resolved: map[string]bool{}}
	for _, a := range arches {
		for _, raw := range sels {
			s, err := kernel.ParseSelector(raw)
			if err != nil {
				return nil, &runcfg.ErrConfig{Msg: err.Error()}
			}
			r.planOne(ctx, pl, raw, a, s.WithArch(a))
		}
	}
	pl.settleMissing(len(arches) > 1)
	if len(pl.unknown) > 0 {
		return nil, &runcfg.ErrConfig{Msg: strings.Join(pl.unknown, "\n")}
	}
	out := pl.out
	for i, p := range out {
		if p.spec != nil && pl.names[p.spec.Name] > 1 {
			out[i].dir = fmt.Sprintf("%s-%s", p.spec.Name, p.spec.ID()[:8])
		}
	}
	return out, nil
}

// planning is a plan being made.
type planning struct {
	out []planned
	// unknown are the selectors that named no kernel, each with why.
	unknown []string
	// missing are the selectors that named no kernel of an architecture;
	// resolved holds those that named a kernel of some architecture.
	missing  []missingKernel
	resolved map[string]bool
	// seen indexes out by kernel ID; names counts the kernels of out by
	// name.
	seen, names map[string]int
}

// missingKernel is a selector that named no kernel of architecture arch.
type missingKernel struct {
	raw, arch string
	err       error
}

// settleMissing makes each selector that named no kernel of an
// architecture a usage error, or, in a run of several architectures
// (multi) where it named one of another, a skipped cell with why.
func (pl *planning) settleMissing(multi bool) {
	for _, m := range pl.missing {
		if !multi || !pl.resolved[m.raw] {
			pl.unknown = append(pl.unknown, m.err.Error())
			continue
		}
		why, ok := kernel.ShortLack(m.err)
		if !ok {
			why = m.err.Error()
		}
		note := fmt.Sprintf("%s on %s: skipped (%s)", m.raw, m.arch, why)
		pl.out = append(pl.out, planned{sel: m.raw, skip: note, arch: m.arch, dir: m.raw + "-" + m.arch})
	}
}

// planOne resolves one selector, raw as the run names it and s for
// architecture a, into pl, once per kernel ID.
func (r *runner) planOne(ctx context.Context, pl *planning, raw, a string, s kernel.Selector) {
	spec, err := r.fetcher.ResolveSpec(ctx, s)
	switch {
	case errors.Is(err, kernel.ErrSelector):
		pl.unknown = append(pl.unknown, err.Error())
		return
	case errors.Is(err, kernel.ErrNotFound):
		pl.missing = append(pl.missing, missingKernel{raw, a, err})
		return
	}
	pl.resolved[raw] = true
	if err != nil {
		pl.out = append(pl.out, planned{sel: raw, err: err, dir: raw, arch: a})
		return
	}
	id := spec.ID()
	if i, ok := pl.seen[id]; ok {
		if pl.out[i].sel != raw { // not the same ABI named again for another arch
			pl.out[i].sel += ", " + raw
		}
		return
	}
	pl.seen[id] = len(pl.out)
	pl.names[spec.Name]++
	r.selectors.Store(spec.Name, raw)
	pl.out = append(pl.out, planned{sel: raw, spec: spec, dir: spec.Name})
}

// need is a kernel option a kind of run needs, and who has it.
type need struct {
	option string                    // "CONFIG_GCOV_KERNEL"
	has    func(kernel.Profile) bool // read from a fetched kernel's config
	what   string                    // "coverage needs a kernel with gcov"
	havers string                    // "the -debug and -kcsan kernels"
	// example is a selector of a kernel that has it ("" for 6.1-debug);
	// notBySeries: a series' -debug kernel need not have it, so none is
	// suggested for the series of a kernel without it.
	example     string
	notBySeries bool
}

// needGcov is what --coverage needs: the kernel keeps the counters of code
// built with gcov profiling and shows them in debugfs.
var needGcov = need{option: "CONFIG_GCOV_KERNEL", has: func(p kernel.Profile) bool { return p.Gcov },
	what: "coverage needs a kernel with gcov", havers: "the -debug and -kcsan kernels"}

// needFaults is what --inject-faults needs: a task's N-th allocation can
// be made to fail (/proc/thread-self/fail-nth).
var needFaults = need{option: "CONFIG_FAULT_INJECTION", has: func(p kernel.Profile) bool { return p.FaultInjection },
	what: "--inject-faults needs a kernel with fault injection", havers: "the -debug and -kcsan kernels"}

// needFaultFilter is what scoped fault injection needs: failures held to
// calls from the module's code.
var needFaultFilter = need{option: "CONFIG_FAULT_INJECTION_STACKTRACE_FILTER", has: func(p kernel.Profile) bool { return p.FaultFilter },
	what: "scoped fault injection needs a kernel with the fault-injection stack-trace filter", havers: "the -debug kernels of 6.2 and later on amd64, and every -debug kernel on arm64,",
	example: "7.3-debug", notBySeries: true}

// needKCOV is what fuzzing needs: the module's coverage per task.
var needKCOV = need{option: "CONFIG_KCOV", has: func(p kernel.Profile) bool { return p.KCOV },
	what: "fuzzing needs a kernel with KCOV", havers: "the -debug kernels"}

// checkNeed makes a run a usage error when one of its kernels lacks n's
// option: from what the kernel is known to be made with (a source build's
// fragments), else from its config once fetched (kept in the cache for
// the run). A kernel that cannot be fetched is left to report that.
func (r *runner) checkNeed(ctx context.Context, plan []planned, n need) error {
	var without, suggest []string
	foreign := false
	for _, p := range plan {
		if p.spec == nil {
			continue
		}
		v, known := p.spec.Config[n.option]
		if !known {
			k, err := r.fetcher.Get(ctx, p.spec)
			if err != nil {
				continue
			}
			if n.has(k.Profile()) {
				continue
			}
		} else if v == "y" {
			continue
		}
		without = append(without, p.spec.Name)
		// The kernels built from source are the default architecture's
		// only: another's -debug selector is no such kernel.
		if a := p.spec.Arch; a != "" && a != arch.Default {
			foreign = true
		} else if p.spec.Series != "" && !n.notBySeries {
			suggest = append(suggest, p.spec.Series+"-debug")
		}
	}
	if len(without) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s (%s), which %s lacks", n.what, n.option, strings.Join(without, ", "))
	switch {
	case len(suggest) > 0:
		msg += fmt.Sprintf("; the kernels kmodvm builds from source have it: --kernels %s", strings.Join(suggest, ","))
	case foreign:
		msg += fmt.Sprintf("; only %s kmodvm builds from source have it, and it builds them for %s only", n.havers, arch.Default)
	default:
		example := n.example
		if example == "" {
			example = "6.1-debug"
		}
		msg += fmt.Sprintf("; %s kmodvm builds from source have it (e.g. --kernels %s)", n.havers, example)
	}
	return &runcfg.ErrConfig{Msg: msg}
}
