package vmtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// cacheMaxAge is how long unused image layers and module builds are kept.
const cacheMaxAge = 7 * 24 * time.Hour

// runner holds what the kernels of one run share.
type runner struct {
	cfg        *Config
	fetcher    *kernel.Fetcher
	toolchains *toolchain.Set
	images     *initramfs.Builder
	accel      qemu.Accel // resolved for the default architecture's guests
	accelReq   qemu.Accel // as Config.Accel asked
	out        string

	hooks hooks

	// ctx is the run's: the guest layers are built under it, not under
	// the first kernel's, whose timeout must not fail the others.
	ctx       context.Context
	guestMu   sync.Mutex
	guest     map[string]*guestBuild // by arch; none until a build starts, or after one was canceled
	guestRun  sync.WaitGroup
	selectors sync.Map // kernel name -> selector, for download progress
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

// RunMatrix runs cfg on every kernel, in parallel up to cfg.Jobs, and
// returns the report. One kernel's failure (a missing kernel, a build
// error, a crashed VM) never stops the others. The error is non-nil only
// for an unusable configuration (an *ErrConfig); when ctx is canceled the
// report is marked partial and holds what finished.
func RunMatrix(ctx context.Context, cfg Config) (*report.Report, error) {
	return runMatrix(ctx, cfg, hooks{})
}

// hooks let vmtest.Run follow a run as it goes. Each is called from the
// goroutines of the kernel named by its selector and name.
type hooks struct {
	// test learns of each guest test's start and end.
	test func(sel, name string, lt liveTest)
	// kernel gets each kernel's report once it is complete.
	kernel func(*report.Kernel)
}

func runMatrix(ctx context.Context, cfg Config, h hooks) (*report.Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	accel, _ := qemu.ParseAccel(cfg.Accel)
	r := &runner{
		cfg:      &cfg,
		accel:    accel.Resolve(nil),
		accelReq: accel,
		images:   &initramfs.Builder{CacheDir: cfg.cacheDir()},
		hooks:    h,
	}
	r.fetcher = NewFetcher(cfg.cacheDir(), cfg.Offline, cfg.Log, func(name string, done, total int) {
		sel, _ := r.selectors.Load(name)
		s, _ := sel.(string)
		r.step(s, name, PhaseFetch, fmt.Sprintf("kernel build %d%% (%d of about %d objects)", done*100/max(total, 1), done, total))
	})
	r.fetcher.KDir = cfg.KDir
	debianprov.Of(r.fetcher).Progress = func(abi string, done, total int64) {
		sel, _ := r.selectors.Load(abi)
		s, _ := sel.(string)
		r.step(s, abi, PhaseFetch, fmt.Sprintf("%d%% of %.0f MB", done*100/max(total, 1), float64(total)/1e6))
	}
	r.toolchains = &toolchain.Set{Dir: cachedir.Layout{Root: cfg.cacheDir()}.Toolchains(), Log: cfg.Log}
	r.out = cfg.OutDir
	if r.out != "" {
		// Two runs writing one artifacts directory would trample each
		// other's builds and logs.
		if err := os.MkdirAll(r.out, 0o755); err != nil {
			return nil, err
		}
		l := flock.New(filepath.Join(r.out, ".kmodvm.lock"))
		ok, err := l.TryLock()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &ErrConfig{fmt.Sprintf("another kmodvm run is using %s: give this one its own --out", r.out)}
		}
		defer l.Unlock()
	}
	if r.out == "" {
		tmp, err := os.MkdirTemp("", "kmodvm-run-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		r.out = tmp
	}
	plan, err := r.plan(ctx, cfg.kernels(), cfg.Arch)
	if err != nil {
		return nil, err
	}
	if cfg.Coverage {
		if err := r.checkCoverage(ctx, plan); err != nil {
			return nil, err
		}
	}
	// The guest layers' build ends with the kernels that need it.
	var cancel context.CancelFunc
	r.ctx, cancel = context.WithCancel(ctx)
	host, _ := os.Hostname()
	rep := &report.Report{Schema: report.SchemaVersion, Started: time.Now().UTC(),
		Host: report.Host{Name: host, Accel: string(r.accel), CPUs: cfg.jobs(), Kmodvm: buildVersion()}}
	rep.Kernels = make([]*report.Kernel, len(plan))
	sem := make(chan struct{}, cfg.jobs())
	var wg sync.WaitGroup
	for i, p := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				rep.Kernels[i] = &report.Kernel{Name: p.name(), Selector: p.sel, Status: report.NotRun, Error: "interrupted before it started"}
				return
			}
			rep.Kernels[i] = r.kernel(ctx, p)
			if h.kernel != nil {
				h.kernel(rep.Kernels[i])
			}
		}()
	}
	wg.Wait()
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
	kbuild.Prune(cachedir.Layout{Root: cfg.cacheDir()}.Builds(), cacheMaxAge)
	(&qemu.Snapshots{Dir: SnapshotDir(cfg.cacheDir())}).Prune(cacheMaxAge)
	return rep, nil
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}

// minVMTime is the least time before a deadline in which a VM is started,
// for a kernel's first boot as for a reboot after a crash: some for the
// guest, and its hang diagnosis.
const minVMTime = qemu.DiagnosisTime + 10*time.Second

func (r *runner) step(sel, k string, p Phase, detail string) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(Step{Selector: sel, Kernel: k, Phase: p, Detail: detail, At: time.Now()})
	}
}

// kernel runs everything for one kernel and never fails: what went wrong
// is in the returned report entry.
func (r *runner) kernel(ctx context.Context, p planned) (kr *report.Kernel) {
	start := time.Now()
	sel := p.sel
	kr = &report.Kernel{Name: p.name(), Selector: sel, Status: report.Error, Files: map[string]string{}}
	defer func() {
		if p := recover(); p != nil {
			kr.Status, kr.Error = report.Error, fmt.Sprintf("kmodvm bug: %v\n%s", p, debug.Stack())
		}
		kr.Timing.Total = time.Since(start).Seconds()
		r.step(sel, kr.Name, PhaseDone, string(kr.Status))
	}()
	if r.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.Timeout)
		defer cancel()
	}
	r.step(sel, kr.Name, PhaseFetch, "")
	if p.err != nil {
		kr.Error = "fetch: " + p.err.Error()
		return kr
	}
	s, err := r.tailor(ctx, p.spec, filepath.Join(r.out, p.dir))
	if err != nil {
		kr.Error = "fetch: " + err.Error()
		return kr
	}
	kr.ID, kr.ABI, kr.Version, kr.Provider, kr.Arch, kr.Variant, kr.Note = s.ID(), s.ABI, s.Version, s.Provider, s.Arch, s.Variant, s.Note
	k, err := r.fetcher.Get(ctx, s)
	kr.Timing.Fetch = time.Since(start).Seconds()
	if err != nil {
		kr.Error = "fetch: " + err.Error()
		return kr
	}
	kr.Name, kr.ABI, kr.Version, kr.Origin = k.Name, k.ABI, k.Version, k.Origin
	if k.ID != kr.ID { // the spec's fallback: its note says why
		kr.ID, kr.Note = k.ID, k.Note
	}
	r.kernelDebugInfo(ctx, k, kr)
	dir := filepath.Join(r.out, p.dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		kr.Error = err.Error()
		return kr
	}
	built, gcov, ok := r.build(ctx, k, kr, dir)
	if !ok {
		return kr
	}
	var kos, gcovDirs []string
	for _, m := range built {
		kos = append(kos, m.Path)
	}
	for _, b := range gcov {
		gcovDirs = append(gcovDirs, b.buildDir)
	}
	m := r.cfg.machineFor(k, r.accelFor(k.Arch))
	deadline, _ := ctx.Deadline()
	if left := time.Until(deadline); !deadline.IsZero() && left < minVMTime {
		// A VM started now would end, hang diagnosis included, after
		// the deadline: go test's -timeout would panic and lose the
		// report.
		kr.Error = fmt.Sprintf("not booted: %s was left before the run's deadline (the kernel's --timeout, or go test's -timeout), less than the %s a VM and its hang diagnosis need", left.Round(time.Second), minVMTime)
		return kr
	}
	m.fitTestTimeout(deadline)
	r.step(sel, k.Name, PhaseImage, "")
	imgStart := time.Now()
	img, err := r.image(ctx, k, kos, gcovDirs, m, dir)
	kr.Timing.Image = time.Since(imgStart).Seconds()
	if err != nil {
		kr.Error = "image: " + err.Error()
		return kr
	}
	if !r.cfg.Keep {
		defer os.Remove(img.path)
	}
	img.modules = built
	col := r.boot(ctx, k, img, m, kr, dir, 0)
	if !r.cfg.interactive() {
		r.reboot(ctx, k, img, m, kr, dir, col)
	}
	symbolize(k, kr, built)
	r.coverage(ctx, kr, dir, gcov)
	return kr
}
