package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/bench/internal/machine"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// The markers of RESULTS.md's fault-injection sweep section, which
// -sweep writes and a full run keeps.
const (
	sweepBegin = "<!-- fault-sweep -->"
	sweepEnd   = "<!-- /fault-sweep -->"
)

// sweepRun is one timed run of the bundled driver's suite on the debug
// kernel: without a sweep (vms 0), or with its points in vms VMs.
type sweepRun struct {
	vms  int
	wall float64 // the whole RunMatrix, warm
	rep  *report.Report
}

// points counts the run's sweep points, and busy is, for the VM that
// swept longest, the sum of its points' times (each from the point's
// start to the guest back in the module unloaded, the tests run on an
// instance included). A split sweep's VM runs the points N with N-1 =
// its share modulo the VMs, its reboots included.
func (s sweepRun) points() (n int, busy float64) {
	return s.pointsOf(func(*report.FaultPoint) bool { return true })
}

// loadPoints are points' numbers for the bundled driver's load sweep,
// issue 22's measure: mmapdrv's load points, not its KUnit module's nor
// the unloads.
func (s sweepRun) loadPoints() (n int, busy float64) {
	return s.pointsOf(func(p *report.FaultPoint) bool { return p.Op == "load" && p.Module == "mmapdrv" })
}

func (s sweepRun) pointsOf(keep func(*report.FaultPoint) bool) (n int, busy float64) {
	if len(s.rep.Kernels) == 0 {
		return 0, 0
	}
	per := make([]float64, max(s.vms, 1))
	for _, t := range s.rep.Kernels[0].Tests {
		if t.Fault == nil || !keep(t.Fault) {
			continue
		}
		n++
		per[(t.Fault.Nth-1)%len(per)] += t.Elapsed
	}
	for _, b := range per {
		busy = max(busy, b)
	}
	return n, busy
}

// measureSweep times the bundled driver's suite on kernel sel: with no
// sweep, then its sweep in 1 VM and in 2, in each of rounds (the order
// kept, so that the machine's noise hits all three).
func measureSweep(ctx context.Context, sel string, rounds int) [][]sweepRun {
	tmp, err := os.MkdirTemp("", "kmodvm-bench-sweep-")
	check(err)
	defer os.RemoveAll(tmp)
	run := func(round, vms int) sweepRun {
		cfg := vmtest.Config{Kernels: []string{sel}, Modules: []string{"kmod"}, Tests: []string{"guest/mmapdrv"},
			OutDir: filepath.Join(tmp, fmt.Sprintf("out-%d-%d", round, vms)), CPUs: 2, Jobs: 1,
			InjectFaults: vms > 0, SweepJobs: vms}
		if round >= 0 {
			log.Printf("sweep bench, round %d: %s", round+1, sweepHow(vms))
		}
		var rep *report.Report
		wall := timeIt(func() { rep = mustRun(ctx, cfg) })
		if len(rep.Kernels) == 0 || rep.Kernels[0].Status == report.Error {
			log.Fatalf("%s: %+v", sweepHow(vms), rep.Kernels)
		}
		return sweepRun{vms: vms, wall: wall, rep: rep}
	}
	// The one-test module: issue 22's measure of a run's fixed cost on a
	// debug kernel (the kmemleak check after the unload most of it).
	oneTest := func(round int) sweepRun {
		cfg := vmtest.Config{Kernels: []string{sel}, Modules: []string{"bench/nopmod"}, Tests: []string{"bench/emptytest"},
			OutDir: filepath.Join(tmp, fmt.Sprintf("out-%d-one", round)), Jobs: 1}
		if round >= 0 {
			log.Printf("sweep bench, round %d: the one-test module", round+1)
		}
		var rep *report.Report
		wall := timeIt(func() { rep = mustRun(ctx, cfg) })
		if len(rep.Kernels) == 0 || rep.Kernels[0].Status != report.Pass {
			log.Fatalf("the one-test module: %+v", rep.Kernels)
		}
		return sweepRun{vms: -1, wall: wall, rep: rep}
	}
	log.Print("sweep bench: warm-up runs")
	run(-1, 0)
	oneTest(-1)
	var out [][]sweepRun
	for r := 0; r < rounds; r++ {
		out = append(out, []sweepRun{run(r, 0), run(r, 1), run(r, 2), oneTest(r)})
	}
	return out
}

func sweepHow(vms int) string {
	switch vms {
	case 0:
		return "no sweep"
	case 1:
		return "--inject-faults --sweep-jobs 1"
	}
	return fmt.Sprintf("--inject-faults --sweep-jobs %d", vms)
}

// sweepSection renders the sweep's measurements as RESULTS.md's section.
func sweepSection(sel, note string, rounds [][]sweepRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Fault-injection sweep\n\nMeasured by `make bench-sweep` (`go run ./bench -sweep`) on %s, on this machine:\n\n%s\n",
		sweepBegin, time.Now().UTC().Format("2006-01-02 15:04 MST"), machine.Describe())
	if note != "" {
		fmt.Fprintf(&b, "Conditions: %s\n\n", note)
	}
	fmt.Fprintf(&b, "The bundled driver (kmod) and its suite (guest/mmapdrv) on %s under TCG, 2 guest CPUs, one kernel; "+
		"each round runs it without a sweep, with `--inject-faults` in one VM, then in two VMs at once (`--sweep-jobs 2`), warm. "+
		"The sweep's time is, for the VM that swept longest, the sum of its points' times (each point's load or unload, "+
		"its checks, the tests on an instance a swallowed failure left); the time it adds is the run's wall time less the "+
		"run's without a sweep, in the same round.\n\n", sel)
	b.WriteString("mmapdrv's load sweep is the part of it issue 22's goal (60 s) is about: mmapdrv's load points " +
		"(not its KUnit module's, not the unloads), for the VM that swept longest.\n\n")
	b.WriteString("| round | VMs | points | sweep time | points per second | mmapdrv's load sweep: points, time | run wall time | added by the sweep | result |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, round := range rounds {
		base := round[0].wall
		for _, s := range round[:3] {
			k := s.rep.Kernels[0]
			c := k.Counts()
			result := fmt.Sprintf("%s, %d passed, %d failed", k.Status, c.Pass, c.Fail)
			if s.vms == 0 {
				fmt.Fprintf(&b, "| %d | - | - | - | - | - | %.1f s | - | %s |\n", i+1, s.wall, result)
				continue
			}
			n, busy := s.points()
			ln, lbusy := s.loadPoints()
			fmt.Fprintf(&b, "| %d | %d | %d | %.1f s | %.2f | %d, %.1f s | %.1f s | %.1f s | %s |\n",
				i+1, s.vms, n, busy, float64(n)/busy, ln, lbusy, s.wall, s.wall-base, result)
		}
	}
	b.WriteString("\nThe one-test module (bench/nopmod, bench/emptytest: issue 22's goal, done in 20 s after its restore), " +
		"warm, 1 guest CPU, the kernel's default memory:\n\n| round | restore (s) | tests phase, the kmemleak check included (s) | after the restore (s) | run wall time (s) |\n|---|---|---|---|---|\n")
	for i, round := range rounds {
		t := round[3].rep.Kernels[0].Timing
		fmt.Fprintf(&b, "| %d | %.1f | %.1f | %.1f | %.1f |\n", i+1, t.Boot, t.Tests, t.Boot+t.Tests, round[3].wall)
	}
	b.WriteString("\n| round | points per second, 2 VMs / 1 VM | time added, 2 VMs / 1 VM |\n|---|---|---|\n")
	for i, round := range rounds {
		n1, b1 := round[1].points()
		n2, b2 := round[2].points()
		fmt.Fprintf(&b, "| %d | %.2f | %.2f |\n", i+1, (float64(n2)/b2)/(float64(n1)/b1), (round[2].wall-round[0].wall)/(round[1].wall-round[0].wall))
	}
	b.WriteString(sweepEnd + "\n")
	return b.String()
}

// keepSection returns doc's section between begin and end (end's line
// included), or "".
func keepSection(doc, begin, end string) string {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j <= i {
		return ""
	}
	return doc[i:j] + end + "\n"
}

// replaceSection puts section in place of doc's between begin and end,
// or at its end.
func replaceSection(doc, section, begin, end string) string {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i >= 0 && j > i {
		rest := doc[j+len(end):]
		return doc[:i] + section + strings.TrimPrefix(rest, "\n")
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section
}

// writeSweep replaces path's sweep section with the one measured.
func writeSweep(ctx context.Context, path, sel, note string, rounds int) {
	section := sweepSection(sel, note, measureSweep(ctx, sel, rounds))
	old, _ := os.ReadFile(path)
	check(os.WriteFile(path, []byte(replaceSection(string(old), section, sweepBegin, sweepEnd)), 0o644))
	fmt.Print(section)
}
