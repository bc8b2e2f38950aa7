// Command bench measures kmodvm's speed targets on this machine and writes
// bench/RESULTS.md: a warm `kmodvm run` of a do-nothing module and one
// empty test, timed as a process, with every VM booted and with every VM
// restored from its kernel's snapshot, over the floor of the same kernels
// booting a trivial init that powers off (as many at a time as there are
// CPUs); the warm guest-image build, warm kernel fetches, and the bundled
// suite's run, for the kernels of one or more architectures (-arch
// amd64,arm64).
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

	"github.com/kmodvm/kmodvm/bench/internal/machine"
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
	rounds := flag.Int("rounds", 3, "alternating rounds of floor and framework")
	out := flag.String("out", "bench/RESULTS.md", "results file")
	kernels := flag.String("kernels", strings.Join(vmtest.DefaultKernels(), ","), "kernel selectors")
	cold := flag.Bool("cold", true, "also time cold fetches into an empty temporary cache")
	archFlag := flag.String("arch", "amd64", "architectures of the kernels, comma-separated: each selector once per architecture")
	flag.Parse()
	ctx := context.Background()
	sels := strings.Split(*kernels, ",")
	arches, err := vmtest.Arches(strings.Split(*archFlag, ","))
	check(err)
	selectors := func() []kernel.Selector {
		var out []kernel.Selector
		for _, a := range arches {
			for _, s := range sels {
				sel, err := kernel.ParseSelector(s)
				check(err)
				out = append(out, sel.WithArch(a))
			}
		}
		return out
	}

	cache := kernel.DefaultCacheDir()
	f := debianprov.NewFetcher(&kernel.Cache{Dir: cache}, false, os.Stderr)
	var ks []*kernel.Kernel
	for _, sel := range selectors() {
		k, err := f.Fetch(ctx, sel)
		check(err)
		ks = append(ks, k)
	}
	warmFetch := timeIt(func() {
		g := debianprov.NewFetcher(&kernel.Cache{Dir: cache}, true, nil)
		for _, sel := range selectors() {
			_, err := g.Fetch(ctx, sel)
			check(err)
		}
	})

	tmp, err := os.MkdirTemp("", "kmodvm-bench-")
	check(err)
	defer os.RemoveAll(tmp)
	var colds []coldFetch
	if *cold {
		colds = coldFetches(ctx, filepath.Join(tmp, "cold-cache"), selectors())
	}
	floorImg := map[string]string{}
	for _, a := range arches {
		floorImg[a] = buildFloorImage(tmp, a)
	}

	cfg := vmtest.Config{
		Kernels: sels, Arch: arches, Modules: []string{"bench/nopmod"}, Tests: []string{"bench/emptytest"},
		OutDir: filepath.Join(tmp, "out"),
	}
	log.Print("warm-up run")
	rep, err := vmtest.RunMatrix(ctx, cfg)
	check(err)
	if rep.Failed() {
		log.Fatalf("warm-up run failed: %+v", rep.Kernels)
	}
	loadStart, statStart := loadAverage(), readCPUStat()
	results := processRounds(*rounds, buildCLI(tmp), tmp, sels, arches, func() { floor(ctx, ks, floorImg) })

	steal := stealSince(statStart)
	imageWarm := warmImage(ctx, cache, ks[0], rep)

	// The bundled suite both ways: restored from the snapshots, then every
	// VM booted.
	log.Print("bundled suite")
	suite := vmtest.Config{Kernels: sels, Arch: arches, Modules: []string{"kmod"}, Tests: []string{"guest/mmapdrv"}, OutDir: filepath.Join(tmp, "suite")}
	suiteRep := mustRun(ctx, suite)
	suite.NoSnapshot, suite.OutDir = true, filepath.Join(tmp, "suite-cold")
	coldSuiteRep := mustRun(ctx, suite)

	var b strings.Builder
	fmt.Fprintf(&b, "# kmodvm benchmark results\n\nMeasured by `make bench` (bench/main.go) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "## Machine\n\n%s- load average (1, 5, 15 min) when the rounds started: %s; when the report was written: %s (above %d, other work shared the CPUs: compare ratios, not seconds)\n"+
		"- CPU time stolen by the hypervisor during the rounds (/proc/stat): %s (other machines' work on the same host: it varies from second to second, hence the rounds' spread)\n\n",
		machine.Describe(), loadStart, loadAverage(), runtime.NumCPU(), steal)
	fmt.Fprintf(&b, "Kernels: %s, %d at a time (one per CPU), TCG, 256 MiB; amd64 boots the PVH vmlinux (q35), arm64 the Image (virt, -cpu max,pauth-impdef=on).\n\n", strings.Join(names(ks), ", "), runtime.NumCPU())
	writeProcessRounds(&b, results, names(ks))
	fmt.Fprintf(&b, "## Other measurements\n\n| what | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| warm guest-image build for one kernel (goal < 0.2 s) | %.3f s |\n", imageWarm)
	fmt.Fprintf(&b, "| warm fetch of %d kernels, offline | %.2f s |\n", len(ks), warmFetch)
	for _, r := range []struct {
		how, short string
		rep        *report.Report
	}{{"restored from snapshots", "restored", suiteRep}, {"every VM booted, --no-snapshot", "booted", coldSuiteRep}} {
		fmt.Fprintf(&b, "| bundled mmapdrv suite on %d kernels (warm, W=0), %s | %.1f s |\n", len(ks), r.how, r.rep.Finished.Sub(r.rep.Started).Seconds())
		for _, k := range r.rep.Kernels {
			c := k.Counts()
			fmt.Fprintf(&b, "| %s: suite, %s | %s, %d passed, %d skipped; boot %.1f s, tests %.1f s |\n", k.Name, r.short, k.Status, c.Pass, c.Skip, k.Timing.Boot, k.Timing.Tests)
		}
	}
	b.WriteString("\n## Kernels: cold fetch and size on disk\n\n")
	b.WriteString("Cold: an empty cache, the archive index updated first (not counted per kernel), packages downloaded, verified, unpacked, depmod, vmlinux extracted.\n\n")
	b.WriteString("| kernel | cold fetch (s) | download (MB) | cache entry on disk |\n|---|---|---|---|\n")
	for i, k := range ks {
		// The entry fetched cold is laid out by this kmodvm; the default
		// cache's may be older and larger.
		c := coldFetch{secs: -1, mb: -1, entry: du(k.Dir)}
		if i < len(colds) {
			c = colds[i]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", k.Name, orDash(c.secs, "%.1f"), orDash(c.mb, "%.0f"), c.entry)
	}
	fmt.Fprintf(&b, "\nVM snapshots (one per kernel and machine shape; each kernel's counts with its entry): %s.\n", snapshotSizes(cache))
	if len(colds) > 0 {
		fmt.Fprintf(&b, "\nArchive index update (apt-get update of 7 suites, index of kernel packages): %.1f s.\n", colds[0].index)
	}
	// make bench-debug writes its own section (a debug kernel's cold build
	// takes a quarter of an hour); keep it.
	if old, err := os.ReadFile(*out); err == nil {
		if i, j := strings.Index(string(old), "<!-- debug-kernels -->"), strings.Index(string(old), "<!-- /debug-kernels -->"); i >= 0 && j > i {
			b.WriteString("\n" + string(old[i:j]) + "<!-- /debug-kernels -->\n")
		}
	}
	check(os.WriteFile(*out, []byte(b.String()), 0o644))
	fmt.Print(b.String())
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

func orDash(v float64, format string) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
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
