// Package run is the runner behind vmtest.RunMatrix: for each kernel of
// the matrix, in parallel, it resolves and fetches the kernel (plan.go,
// tailor.go, debuginfo.go), builds the modules (build.go), assembles the
// guest image (image.go), boots or restores the VM (boot.go,
// snapshot.go), drives it when a person is involved (interactive.go,
// gdblink.go), feeds what the guest sends to a collector (vmtest/collect)
// and settles the kernel's verdict, boots again for the tests a crash or
// hang left (reboot.go), and finishes the kernel's report: symbolized
// frames (symbolize.go), the hang diagnosis (hang.go), coverage (gcov.go)
// and repro.sh (repro.go). The time a kernel has is divided in one place
// (budget.go).
package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// runner holds what the kernels of one run share.
type runner struct {
	cfg        *runcfg.Config
	fetcher    *kernel.Fetcher
	toolchains *toolchain.Set
	images     *initramfs.Builder
	accel      qemu.Accel // resolved for the default architecture's guests
	accelReq   qemu.Accel // as Config.Accel asked
	out        string
	// allow are Config.Allow's rules in force when the run started.
	allow allow.List

	hooks Hooks

	// ctx is the run's: the guest layers are built under it, not under
	// the first kernel's, whose timeout must not fail the others.
	ctx       context.Context
	guestMu   sync.Mutex
	guest     map[string]*guestBuild // by arch; none until a build starts, or after one was canceled
	guestRun  sync.WaitGroup
	selectors sync.Map // kernel name -> selector, for download progress
	// kernelCount is how many kernels the run has to run (not skipped):
	// with Config.Parallel, how many share the CPUs.
	kernelCount int
}

// Hooks let a caller (vmtest.Run) follow a run as it goes. Each is
// called from the goroutines of the kernel named by its selector and name.
type Hooks struct {
	// Test learns of each guest test's start and end, and of each VM's
	// end (collect.Live.VM).
	Test func(sel, name string, lt collect.Live)
	// Kernel gets each kernel's report once it is complete.
	Kernel func(*report.Kernel)
}

// Matrix runs cfg on every kernel, in parallel up to cfg.Jobs, and
// returns the report; h hears of it as it goes. One kernel's failure (a
// missing kernel, a build error, a crashed VM) never stops the others.
// The error is non-nil only for an unusable configuration (an
// *runcfg.ErrConfig); when ctx is canceled the report is marked partial
// and holds what finished.
func Matrix(ctx context.Context, cfg runcfg.Config, h Hooks) (*report.Report, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	r := newRunner(&cfg, h)
	release, err := r.claimOut()
	if err != nil {
		return nil, err
	}
	defer release()
	plan, err := r.plan(ctx, cfg.Selectors(), cfg.Arch)
	if err != nil {
		return nil, err
	}
	for _, n := range []struct {
		on   bool
		need need
	}{{cfg.Coverage, needGcov}, {cfg.InjectFaults, needFaults}, {cfg.ScopeFaults > 0, needFaultFilter}, {cfg.Fuzz != nil, needKCOV}} {
		if !n.on {
			continue
		}
		if err := r.checkNeed(ctx, plan, n.need); err != nil {
			return nil, err
		}
	}
	// The guest layers' build ends with the kernels that need it.
	var cancel context.CancelFunc
	r.ctx, cancel = context.WithCancel(ctx)
	host, _ := os.Hostname()
	rep := &report.Report{Schema: report.SchemaVersion, Started: time.Now().UTC(),
		Host: report.Host{Name: host, Accel: string(r.accel), CPUs: cfg.Parallel(), Kmodvm: buildVersion()}}
	rep.Kernels = r.kernels(ctx, plan)
	rep.GroupByArch()
	cancel()
	r.guestRun.Wait()
	if cfg.Coverage && cfg.OutDir != "" {
		if err := writeRunCoverage(r.out, rep); err != nil && cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "coverage of the run: %v\n", err)
		}
	}
	rep.Finished = time.Now().UTC()
	rep.Partial = ctx.Err() != nil
	// Every change to a module or test package adds cache entries; drop
	// the ones unused for a while (best effort).
	r.images.Prune(cacheMaxAge)
	kbuild.Prune(cachedir.Layout{Root: cfg.CacheRoot()}.Builds(), cacheMaxAge)
	(&qemu.Snapshots{Dir: SnapshotDir(cfg.CacheRoot())}).Prune(cacheMaxAge)
	return rep, nil
}

// newRunner returns the runner of cfg's run, its fetcher reporting
// downloads and kernel builds as the progress of the kernel they are for.
func newRunner(cfg *runcfg.Config, h Hooks) *runner {
	accel, _ := qemu.ParseAccel(cfg.Accel)
	r := &runner{
		cfg:      cfg,
		accel:    accel.Resolve(nil),
		accelReq: accel,
		images:   &initramfs.Builder{CacheDir: cfg.CacheRoot()},
		hooks:    h,
		allow:    cfg.Allow.Active(time.Now()),
	}
	r.fetcher = NewFetcher(cfg.CacheRoot(), cfg.Offline, cfg.Log, func(name string, done, total int) {
		sel, _ := r.selectors.Load(name)
		s, _ := sel.(string)
		r.step(s, name, runcfg.PhaseFetch, fmt.Sprintf("kernel build %d%% (%d of about %d objects)", done*100/max(total, 1), done, total))
	})
	r.fetcher.KDir = cfg.KDir
	debianprov.Of(r.fetcher).Progress = func(abi string, done, total int64) {
		sel, _ := r.selectors.Load(abi)
		s, _ := sel.(string)
		r.step(s, abi, runcfg.PhaseFetch, fmt.Sprintf("%d%% of %.0f MB", done*100/max(total, 1), float64(total)/1e6))
	}
	r.toolchains = &toolchain.Set{Dir: cachedir.Layout{Root: cfg.CacheRoot()}.Toolchains(), Log: cfg.Log, Offline: cfg.Offline}
	return r
}

// claimOut makes r.out the run's output directory, locked against another
// run, or a temporary one; release gives it up (and removes a temporary
// one).
func (r *runner) claimOut() (release func(), err error) {
	r.out = r.cfg.OutDir
	if r.out == "" {
		tmp, err := os.MkdirTemp("", "kmodvm-run-")
		if err != nil {
			return nil, err
		}
		r.out = tmp
		return func() { os.RemoveAll(tmp) }, nil
	}
	// Two runs writing one artifacts directory would trample each other's
	// builds and logs.
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return nil, err
	}
	l := flock.New(filepath.Join(r.out, ".kmodvm.lock"))
	ok, err := l.TryLock()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &runcfg.ErrConfig{Msg: fmt.Sprintf("another kmodvm run is using %s: give this one its own --out", r.out)}
	}
	return func() { l.Unlock() }, nil
}

// kernels runs the planned kernels, Config.Parallel at a time, and returns
// their reports in the plan's order; the kernels still waiting when ctx
// ends are reported as not run.
func (r *runner) kernels(ctx context.Context, plan []planned) []*report.Kernel {
	out := make([]*report.Kernel, len(plan))
	for _, p := range plan {
		if p.skip == "" {
			r.kernelCount++
		}
	}
	sem := make(chan struct{}, r.cfg.Parallel())
	var wg sync.WaitGroup
	for i, p := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				out[i] = &report.Kernel{Name: p.name(), Selector: p.sel, Status: report.NotRun, Error: "interrupted before it started"}
				return
			}
			out[i] = r.kernel(ctx, p)
			if r.hooks.Kernel != nil {
				r.hooks.Kernel(out[i])
			}
		}()
	}
	wg.Wait()
	return out
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}

func (r *runner) step(sel, k string, p runcfg.Phase, detail string) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(runcfg.Step{Selector: sel, Kernel: k, Phase: p, Detail: detail, At: time.Now()})
	}
}
