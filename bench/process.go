package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// buildCLI builds the kmodvm binary the rounds time as a whole process.
func buildCLI(dir string) string {
	bin := filepath.Join(dir, "kmodvm")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/kmodvm").CombinedOutput(); err != nil {
		log.Fatalf("build kmodvm: %v\n%s", err, out)
	}
	return bin
}

// How a timed run's VMs must start.
const (
	booted   = "" // --no-snapshot
	restored = "restored"
	anyStart = "any" // the warm-up: restored, or booted and saved
)

// processRun is one warm `kmodvm run` of the do-nothing module and the
// empty test on sels of arches, its VMs started as want says: its wall time as a
// process, and its report.
func processRun(bin, dir string, sels, arches []string, want string) (float64, *report.Report) {
	out := filepath.Join(dir, "out")
	os.RemoveAll(out)
	args := []string{"run", "-q", "--offline", "--kernels", strings.Join(sels, ","), "--arch", strings.Join(arches, ","),
		"--module", "bench/nopmod", "--tests", "bench/emptytest", "--out", out}
	if want == booted {
		args = append(args, "--no-snapshot")
	}
	secs := timeIt(func() {
		if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			log.Fatalf("kmodvm %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	})
	rep, err := report.ReadFile(filepath.Join(out, "report.json"))
	check(err)
	for _, k := range rep.Kernels {
		if k.Status != report.Pass || want != anyStart && snapOf(k) != want {
			log.Fatalf("%s: %s (%s), snapshot %q: want a pass, snapshot %q", k.Name, k.Status, k.Error, snapOf(k), want)
		}
	}
	return secs, rep
}

func snapOf(k *report.Kernel) string {
	if k.Boot == nil {
		return ""
	}
	return k.Boot.Snapshot
}

// processRound is one round of floor, cold-boot run and snapshot run.
type processRound struct {
	floor, cold, snap float64
	hello             map[string][2]float64 // kernel: start to hello, cold and restored
}

// processRounds alternates the floor, the cold-boot run and the snapshot
// run, so that machine noise hits all three; the first snapshot run, which
// may save the kernels' snapshots, is a warm-up and not counted.
func processRounds(n int, bin, dir string, sels, arches []string, floor func()) []processRound {
	log.Print("warm-up: kmodvm run, cold and saving snapshots")
	processRun(bin, dir, sels, arches, booted)
	processRun(bin, dir, sels, arches, anyStart)
	var rounds []processRound
	for i := 0; i < n; i++ {
		r := processRound{hello: map[string][2]float64{}}
		r.floor = timeIt(floor)
		var cold, snap *report.Report
		r.cold, cold = processRun(bin, dir, sels, arches, booted)
		r.snap, snap = processRun(bin, dir, sels, arches, restored)
		for j, k := range cold.Kernels {
			r.hello[k.Name] = [2]float64{k.Timing.Boot, snap.Kernels[j].Timing.Boot}
		}
		log.Printf("round %d: floor %.2fs, cold-boot run %.2fs (%.2fx), snapshot run %.2fs (%.2fx)",
			i+1, r.floor, r.cold, r.cold/r.floor, r.snap, r.snap/r.floor)
		rounds = append(rounds, r)
	}
	return rounds
}

// writeProcessRounds renders the rounds as RESULTS.md's first section.
func writeProcessRounds(b *strings.Builder, rounds []processRound, kernels []string) {
	fmt.Fprintf(b, "## Whole runs: floor, cold boot, snapshot (goal: snapshot run within 0.5x of the floor)\n\n")
	fmt.Fprintf(b, "Each round times, one after the other: the floor (every kernel boots a static init that powers off, one VM per CPU at a time); "+
		"a warm `kmodvm run --no-snapshot` of the do-nothing module and the empty test (every VM boots); "+
		"and the same warm `kmodvm run` restoring each kernel's snapshot. "+
		"Both runs are the `kmodvm` binary timed as a whole process (start to exit: cache checks, module build cache, image, VMs, report).\n\n")
	fmt.Fprintf(b, "| round | floor (s) | cold-boot run (s) | ratio | snapshot run (s) | ratio |\n|---|---|---|---|---|---|\n")
	var fl, co, sn, rc, rs []float64
	for i, r := range rounds {
		fmt.Fprintf(b, "| %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", i+1, r.floor, r.cold, r.cold/r.floor, r.snap, r.snap/r.floor)
		fl, co, sn = append(fl, r.floor), append(co, r.cold), append(sn, r.snap)
		rc, rs = append(rc, r.cold/r.floor), append(rs, r.snap/r.floor)
	}
	fmt.Fprintf(b, "| **median** | %.2f | %.2f | **%.2f** | %.2f | **%.2f** |\n\n", median(fl), median(co), median(rc), median(sn), median(rs))
	fmt.Fprintf(b, "Start to hello per kernel (QEMU started to the agent's hello event: a boot, or a restore plus the run's files; median of the rounds; goal < 0.5 s restored):\n\n")
	fmt.Fprintf(b, "| kernel | cold boot (s) | restored (s) |\n|---|---|---|\n")
	for _, k := range kernels {
		var c, s []float64
		for _, r := range rounds {
			c, s = append(c, r.hello[k][0]), append(s, r.hello[k][1])
		}
		fmt.Fprintf(b, "| %s | %.2f | %.2f |\n", k, median(c), median(s))
	}
	b.WriteString("\n")
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

// cpuStat is /proc/stat's aggregate CPU line: the time the hypervisor
// ran others on this machine's CPUs (steal) and all time, in ticks.
type cpuStat struct{ steal, total uint64 }

func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var s cpuStat
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i < 8 { // guest time is counted in user time already
			s.total += n
		}
		if i == 7 {
			s.steal = n
		}
	}
	return s
}

// stealSince describes the share of CPU time stolen since start.
func stealSince(start cpuStat) string {
	end := readCPUStat()
	if end.total <= start.total {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(end.steal-start.steal)/float64(end.total-start.total))
}
