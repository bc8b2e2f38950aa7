package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/bench/internal/machine"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// gridMeasurements are what RESULTS-arch.md reports: the bundled suite
// run over every architecture's kernels at once, round after round.
type gridMeasurements struct {
	loadStart, steal string
	rounds           []*report.Report
}

// measureGrid runs the bundled suite on o's kernels of every architecture
// in one run: a warm-up that fetches the kernels and saves their
// snapshots, then o.rounds timed runs. Each timed run passes the module
// build a make variable of its own, so its build is a real one (the build
// cache is keyed by the make variables) while the kernels, images and
// snapshots stay warm.
func measureGrid(ctx context.Context, o benchFlags) gridMeasurements {
	tmp, err := os.MkdirTemp("", "kmodvm-bench-grid-")
	check(err)
	defer os.RemoveAll(tmp)
	cfg := vmtest.Config{Kernels: o.sels, Arch: o.arches, Modules: []string{"kmod"}, Tests: []string{"guest/mmapdrv"},
		OutDir: filepath.Join(tmp, "warm")}
	log.Print("grid warm-up run")
	mustRun(ctx, cfg)
	var m gridMeasurements
	var statStart cpuStat
	m.loadStart, statStart = loadAverage(), readCPUStat()
	for i := range o.rounds {
		log.Printf("grid round %d", i+1)
		cfg.OutDir = filepath.Join(tmp, fmt.Sprintf("round-%d", i+1))
		cfg.MakeVars = []string{fmt.Sprintf("KMODVM_BENCH_ROUND=%d", time.Now().UnixNano())}
		m.rounds = append(m.rounds, mustRun(ctx, cfg))
	}
	m.steal = stealSince(statStart)
	return m
}

// gridCell is one kernel's medians over the rounds.
type gridCell struct {
	arch, series, name, status, start string
	hello, build, suite               float64
}

// cells gathers each kernel's medians over the rounds, in the first
// round's order; skipped are the cells an architecture lacks, with why.
func (m gridMeasurements) cells() (cells []gridCell, skipped []string) {
	for _, k := range m.rounds[0].Kernels {
		if k.Status == report.Skip && k.Boot == nil {
			skipped = append(skipped, k.Note)
			continue
		}
		c := gridCell{arch: archOf(k), name: k.Name, status: string(k.Status), start: "booted"}
		c.series, _, _ = kernel.SplitABI(k.ABI)
		if snapOf(k) == restored {
			c.start = restored
		}
		var hello, build, suite []float64
		for _, r := range m.rounds {
			for _, rk := range r.Kernels {
				if rk.Name == k.Name {
					hello, build, suite = append(hello, rk.Timing.Boot), append(build, rk.Timing.Build), append(suite, rk.Timing.Tests)
				}
			}
		}
		c.hello, c.build, c.suite = median(hello), median(build), median(suite)
		cells = append(cells, c)
	}
	return cells, skipped
}

func archOf(k *report.Kernel) string {
	if k.Arch == "" {
		return arch.Default
	}
	return k.Arch
}

// baseline is the default architecture's suite time the other cells are
// compared with: its kernel of the same series, else the median of its
// kernels (named in how).
func baseline(cells []gridCell, series string) (secs float64, how string) {
	var all []float64
	for _, c := range cells {
		if c.arch != arch.Default {
			continue
		}
		if c.series == series {
			return c.suite, c.series
		}
		all = append(all, c.suite)
	}
	if len(all) == 0 {
		return 0, ""
	}
	return median(all), "median"
}

// writeGrid writes RESULTS-arch.md to path and prints it.
func writeGrid(path string, m gridMeasurements, arches []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "# kmodvm per-architecture benchmark\n\nMeasured by `make bench-arch` (bench/main.go -grid) on %s: `go run ./bench %s`.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&b, "## Machine\n\n%s- load average (1, 5, 15 min) when the rounds started: %s; when the report was written: %s (above %d, other work shared the CPUs: compare ratios, not seconds)\n"+
		"- CPU time stolen by the hypervisor during the rounds (/proc/stat): %s\n\n",
		machine.Describe(), m.loadStart, loadAverage(), runtime.NumCPU(), m.steal)
	cells, skipped := m.cells()
	fmt.Fprintf(&b, "## The bundled suite on every architecture (goal: each at most 4x %s's under TCG)\n\n", arch.Default)
	fmt.Fprintf(&b, "One `kmodvm run` of the bundled module (kmod) and suite (guest/mmapdrv) over the architectures %s, %d kernels at a time, "+
		"repeated %d time(s) after a warm-up run that fetched the kernels and saved their snapshots; each cell is the median of the rounds. "+
		"Start to hello: QEMU started to the agent's hello (a boot, or a snapshot restored plus the run's files). "+
		"Module build: `make modules` of kmod against the kernel's headers, uncached (each round passes a make variable of its own). "+
		"Suite: the guest's tests, hello to the last result. The ratio compares the suite with %s's kernel of the same series, "+
		"else with the median of %s's kernels.\n\n", strings.Join(arches, ", "), runtime.NumCPU(), len(m.rounds), arch.Default, arch.Default)
	b.WriteString("| architecture | kernel | result | start | start to hello (s) | module build (s) | suite (s) | suite vs " + arch.Default + " |\n|---|---|---|---|---|---|---|---|\n")
	for _, a := range arches {
		for _, c := range cells {
			if c.arch != a {
				continue
			}
			ratio := "-"
			if base, how := baseline(cells, c.series); base > 0 {
				ratio = fmt.Sprintf("%.2fx", c.suite/base)
				if how == "median" {
					ratio += " (of the median)"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.2f | %.1f | %.1f | %s |\n", c.arch, c.name, c.status, c.start, c.hello, c.build, c.suite, ratio)
		}
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		b.WriteString("\nCells the grid lacks (skipped by the run):\n\n")
		for _, s := range skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	check(os.WriteFile(path, []byte(b.String()), 0o644))
	fmt.Print(b.String())
}
