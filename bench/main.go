// Command bench measures kmodvm's speed targets on this machine and writes
// bench/RESULTS.md: a warm `kmodvm run` of a do-nothing module and one
// empty test, timed as a process, with every VM booted and with every VM
// restored from its kernel's snapshot, over the floor of the same kernels
// booting a trivial init that powers off (as many at a time as there are
// CPUs); the warm guest-image build, warm kernel fetches, and the bundled
// suite's run, for the kernels of one or more architectures (-arch
// amd64,arm64). With -grid it measures instead, per architecture, the
// bundled suite's start, module build and test time beside the default
// architecture's, every architecture in the same run (RESULTS-arch.md).
// With -sweep it measures only a debug kernel's fault-injection sweep, in
// one VM and in two (bench/sweep.go), into a section of its own that the
// full run keeps.
//
// Rounds alternate floor, cold-boot run and snapshot run so that machine
// noise hits all three; ratios are taken within a round and the median
// reported.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/u-root/u-root/pkg/cpio"
)

func main() {
	o := parseFlags()
	if o.sweep {
		writeSweep(context.Background(), o.out, o.sweepKernel, o.note, o.rounds)
		return
	}
	if o.grid {
		writeGrid(o.out, measureGrid(context.Background(), o), o.arches)
		return
	}
	writeResults(o.out, measure(context.Background(), o))
}

// benchFlags are the command's flags.
type benchFlags struct {
	rounds int
	out    string
	sels   []string
	cold   bool
	arches []string
	grid   bool
	// sweep measures only the fault-injection sweep's section, on
	// sweepKernel, with note on the conditions.
	sweep             bool
	sweepKernel, note string
}

func parseFlags() benchFlags {
	rounds := flag.Int("rounds", 3, "alternating rounds of floor and framework")
	out := flag.String("out", "", "results file (default bench/RESULTS.md, with -grid bench/RESULTS-arch.md)")
	kernels := flag.String("kernels", strings.Join(vmtest.DefaultKernels(), ","), "kernel selectors")
	cold := flag.Bool("cold", true, "also time cold fetches into an empty temporary cache")
	archFlag := flag.String("arch", arch.Default, "architectures of the kernels, comma-separated (or all): each selector once per architecture")
	grid := flag.Bool("grid", false, "measure the bundled suite per architecture instead (RESULTS-arch.md)")
	sweep := flag.Bool("sweep", false, "measure only the fault-injection sweep (the bundled driver's, 1 VM and 2) and replace its section of -out")
	sweepKernel := flag.String("sweep-kernel", "6.1-debug", "the kernel of -sweep")
	note := flag.String("note", "", "with -sweep, a sentence about the conditions of the run, printed with the results")
	flag.Parse()
	if *out == "" {
		*out = "bench/RESULTS.md"
		if *grid {
			*out = "bench/RESULTS-arch.md"
		}
	}
	arches, err := vmtest.Arches(strings.Split(*archFlag, ","))
	check(err)
	return benchFlags{rounds: *rounds, out: *out, sels: strings.Split(*kernels, ","), cold: *cold, arches: arches, grid: *grid,
		sweep: *sweep, sweepKernel: *sweepKernel, note: *note}
}

// selectors are the kernels' selectors, each once per architecture.
func (o benchFlags) selectors() []kernel.Selector {
	var out []kernel.Selector
	for _, a := range o.arches {
		for _, s := range o.sels {
			sel, err := kernel.ParseSelector(s)
			check(err)
			out = append(out, sel.WithArch(a))
		}
	}
	return out
}

// measure takes every measurement RESULTS.md reports, in the order they
// were always taken.
func measure(ctx context.Context, o benchFlags) measurements {
	var m measurements
	m.cache = kernel.DefaultCacheDir()
	m.ks, m.warmFetch = fetchKernels(ctx, m.cache, o)
	tmp, err := os.MkdirTemp("", "kmodvm-bench-")
	check(err)
	defer os.RemoveAll(tmp)
	if o.cold {
		m.colds = coldFetches(ctx, filepath.Join(tmp, "cold-cache"), o.selectors())
	}
	floorImg := map[string]string{}
	for _, a := range o.arches {
		floorImg[a] = buildFloorImage(tmp, a)
	}
	cfg := vmtest.Config{
		Kernels: o.sels, Arch: o.arches, Modules: []string{"bench/nopmod"}, Tests: []string{"bench/emptytest"},
		OutDir: filepath.Join(tmp, "out"),
	}
	log.Print("warm-up run")
	rep, err := vmtest.RunMatrix(ctx, cfg)
	check(err)
	if rep.Failed() {
		log.Fatalf("warm-up run failed: %+v", rep.Kernels)
	}
	var statStart cpuStat
	m.loadStart, statStart = loadAverage(), readCPUStat()
	m.rounds = processRounds(o.rounds, buildCLI(tmp), tmp, o.sels, o.arches, func() { floor(ctx, m.ks, floorImg) })

	m.steal = stealSince(statStart)
	m.imageWarm = warmImage(ctx, m.cache, m.ks[0], rep)

	// The bundled suite both ways: restored from the snapshots, then every
	// VM booted.
	log.Print("bundled suite")
	suite := vmtest.Config{Kernels: o.sels, Arch: o.arches, Modules: []string{"kmod"}, Tests: []string{"guest/mmapdrv"}, OutDir: filepath.Join(tmp, "suite")}
	m.suite = mustRun(ctx, suite)
	suite.NoSnapshot, suite.OutDir = true, filepath.Join(tmp, "suite-cold")
	m.bootedSuite = mustRun(ctx, suite)
	return m
}

// fetchKernels fetches the kernels into the cache, then times fetching
// them again, offline.
func fetchKernels(ctx context.Context, cache string, o benchFlags) ([]*kernel.Kernel, float64) {
	f := debianprov.NewFetcher(&kernel.Cache{Dir: cache}, false, os.Stderr)
	var ks []*kernel.Kernel
	for _, sel := range o.selectors() {
		k, err := f.Fetch(ctx, sel)
		check(err)
		ks = append(ks, k)
	}
	warmFetch := timeIt(func() {
		g := debianprov.NewFetcher(&kernel.Cache{Dir: cache}, true, nil)
		for _, sel := range o.selectors() {
			_, err := g.Fetch(ctx, sel)
			check(err)
		}
	})
	return ks, warmFetch
}

type coldFetch struct {
	secs, mb, index float64
	entry           string // du of the entry as this kmodvm lays it out
}

// coldFetches fetches each kernel into an empty cache and times it.
func coldFetches(ctx context.Context, dir string, sels []kernel.Selector) []coldFetch {
	defer os.RemoveAll(dir)
	f := debianprov.NewFetcher(&kernel.Cache{Dir: dir}, false, os.Stderr)
	index := timeIt(func() {
		_, err := debianprov.Of(f).Index(ctx)
		check(err)
	})
	var out []coldFetch
	for _, sel := range sels {
		s, err := f.ResolveSpec(ctx, sel)
		check(err)
		var k *kernel.Kernel
		secs := timeIt(func() {
			k, err = f.Get(ctx, s)
			check(err)
		})
		// The build the mirror served (a series falls back past builds
		// it lists but does not serve).
		for s.ID() != k.ID && s.Fallback != nil {
			s = s.Fallback
		}
		var size int64
		for _, p := range s.Packages {
			size += p.Size
		}
		out = append(out, coldFetch{secs: secs, mb: float64(size) / 1e6, index: index, entry: du(k.Dir)})
	}
	return out
}

func mustRun(ctx context.Context, cfg vmtest.Config) *report.Report {
	rep, err := vmtest.RunMatrix(ctx, cfg)
	check(err)
	return rep
}

// floor boots every kernel with the power-off init, one per CPU at a time.
func floor(ctx context.Context, ks []*kernel.Kernel, img map[string]string) {
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := qemu.Run(ctx, qemu.Config{Arch: k.Arch, Kernel: k.BootImage(), Initrd: img[arch.Must(k.Arch).Name], Timeout: 2 * time.Minute})
			check(err)
			if res.Exit != qemu.ExitPoweroff {
				log.Fatalf("floor VM of %s ended %s: %s", k.Name, res.Exit, res.Stderr)
			}
		}()
	}
	wg.Wait()
}

// warmImage times the guest image build for one kernel when every layer is
// cached, as RunMatrix does it.
func warmImage(ctx context.Context, cache string, k *kernel.Kernel, rep *report.Report) float64 {
	b := &initramfs.Builder{CacheDir: cache, Arch: k.Arch}
	var ko []string
	for _, kr := range rep.Kernels {
		if kr.Name == k.Name && kr.Build != nil {
			p, _ := filepath.Glob(filepath.Join(filepath.Dir(kr.Build.Log), "build", "0", "src", "*.ko"))
			ko = p
		}
	}
	dir, err := os.MkdirTemp("", "kmodvm-bench-image-")
	check(err)
	defer os.RemoveAll(dir)
	build := func() {
		base, err := b.Base(ctx)
		check(err)
		tl, bins, err := b.Tests(ctx, []initramfs.TestPackage{{Dir: "bench/emptytest"}})
		check(err)
		kl, mods, err := b.Kernel(ctx, initramfs.KernelLayer{ModulesDir: k.ModulesDir, Modules: ko,
			Early: arch.Must(k.Arch).PortModules(2)}) // console and events, as RunMatrix
		check(err)
		run := filepath.Join(dir, "run.cpio")
		check(initramfs.WriteRun(run, event.RunConfig{Modules: mods, Tests: bins, Unload: true}))
		check(initramfs.Concat(filepath.Join(dir, "image.cpio"), append(append([]string{base}, tl...), kl, run)...))
	}
	build() // make sure every layer is cached
	var ts []float64
	for i := 0; i < 5; i++ {
		ts = append(ts, timeIt(build))
	}
	return median(ts)
}

func buildFloorImage(dir, goarch string) string {
	bin := filepath.Join(dir, "init-"+goarch)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./bench/floorinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("build floor init: %v\n%s", err, out)
	}
	content, err := os.ReadFile(bin)
	check(err)
	path := filepath.Join(dir, "floor-"+goarch+".cpio")
	fh, err := os.Create(path)
	check(err)
	defer fh.Close()
	w := cpio.Newc.Writer(fh)
	check(cpio.WriteRecordsAndDirs(w, []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticFile("init", string(content), 0o755),
	}))
	check(cpio.WriteTrailer(w))
	return path
}

// snapshotSizes describes the snapshots in cache written in the current
// format (earlier ones are left to the weekly removal).
func snapshotSizes(cache string) string {
	states, _ := filepath.Glob(filepath.Join(vmtest.SnapshotDir(cache), "*.state"))
	var sizes []float64
	total := 0.0
	for _, p := range states {
		if fi, err := os.Stat(p); err == nil && qemu.IsSavedState(p) {
			mb := float64(fi.Size()) / 1e6
			sizes = append(sizes, mb)
			total += mb
		}
	}
	if len(sizes) == 0 {
		return "none found"
	}
	slices.Sort(sizes)
	return fmt.Sprintf("the cache's %d in the current format take %.1f-%.1f MB each, %.0f MB in all", len(sizes), sizes[0], sizes[len(sizes)-1], total)
}

func du(dir string) string {
	out, err := exec.Command("du", "-sh", dir).Output()
	if err != nil {
		return "?"
	}
	return strings.Fields(string(out))[0]
}

func names(ks []*kernel.Kernel) []string {
	var n []string
	for _, k := range ks {
		n = append(n, k.Name)
	}
	return n
}

func timeIt(fn func()) float64 {
	t := time.Now()
	fn()
	return time.Since(t).Seconds()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
