// Command fuzzbench measures kmodvm fuzz and writes the fuzzing section of
// bench/RESULTS.md (make bench-fuzz): the execs/s of the bundled driver's
// harness on a debug kernel, one job on one guest CPU, and the
// magic-compare power test: a bug behind a 32-bit compare
// (testdata/fuzzbug/magic-oob.sed) sought from an empty corpus within a
// time budget, in some seeds with the comparison operands the KCOV glue
// feeds libFuzzer and in the same seeds without them (--no-cmp).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/bench/internal/machine"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

const (
	begin = "<!-- fuzz -->"
	end   = "<!-- /fuzz -->"
	// margin is a fuzz binary's time beyond its fuzzing: libFuzzer's
	// start and end, the glue's last lines.
	margin = 2 * time.Minute
)

// options are the command's flags.
type options struct {
	kernel, out, note string
	seeds             int
	budget, execTime  time.Duration
}

// try is one magic-compare run: its seed, whether the comparison operands
// were on, whether it found the seeded bug and after how long.
type try struct {
	seed  int
	cmp   bool
	found bool
	after time.Duration
	execs int
}

func main() {
	var o options
	flag.StringVar(&o.kernel, "kernel", "6.1-debug", "the kernel (with KCOV) to fuzz on")
	flag.IntVar(&o.seeds, "seeds", 5, "libFuzzer seeds of the magic-compare test, each tried with and without comparison operands")
	flag.DurationVar(&o.budget, "budget", 5*time.Minute, "time each magic-compare try has to find the bug")
	flag.DurationVar(&o.execTime, "exec-time", time.Minute, "how long the execs/s job fuzzes")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "results file whose fuzzing section is replaced")
	flag.StringVar(&o.note, "note", "", "a sentence about the conditions of this run, printed with the results")
	flag.Parse()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "kmodvm-bench-fuzz-")
	check(err)
	defer os.RemoveAll(tmp)
	a := arch.Must(arch.Default)
	bin := filepath.Join(tmp, "fuzz-harness")
	check(harness.Build(ctx, harness.Options{Source: filepath.Join("kmod", "fuzz", "mmapdrv_fuzz.c"), Out: bin, Arch: a}))
	magic := seeded(tmp)
	loadBefore := loadAverage()

	log.Printf("execs/s: the bundled driver, %s", o.execTime)
	speed := fuzz(ctx, o, tmp, "kmod", &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: []string{"-print_final_stats=1"},
		Corpus: mkdir(tmp, "corpus"), Duration: o.execTime, Jobs: 1}, o.execTime)
	var tries []try
	for seed := 1; seed <= o.seeds; seed++ {
		for _, cmp := range []bool{true, false} {
			log.Printf("magic compare: seed %d, comparison operands %v, %s", seed, cmp, o.budget)
			args := []string{"-print_final_stats=1", "-seed=" + strconv.Itoa(seed), fmt.Sprintf("-max_total_time=%d", int(o.budget.Seconds()))}
			k := fuzz(ctx, o, tmp, magic, &vmtest.Fuzz{Binary: bin, Arch: a.Name, Args: args, NoCmp: !cmp, Jobs: 1}, o.budget)
			tries = append(tries, magicTry(k, seed, cmp))
		}
	}
	section := results(o, speed, tries, loadBefore)
	old, _ := os.ReadFile(o.out)
	check(os.WriteFile(o.out, []byte(replaceSection(string(old), section)), 0o644))
	fmt.Print(section)
}

// seeded is a copy of kmod/ with the magic-compare bug in it.
func seeded(tmp string) string {
	dir := filepath.Join(tmp, "magic")
	check(os.CopyFS(dir, os.DirFS("kmod")))
	out, err := exec.Command("sed", "-i", "-f", filepath.Join("testdata", "fuzzbug", "magic-oob.sed"), filepath.Join(dir, "mmapdrv.c")).CombinedOutput()
	if err != nil {
		log.Fatalf("seeding the bug: %v: %s", err, out)
	}
	return dir
}

// fuzz runs job on o's kernel with module mod, its binary given its
// fuzzing time and the margin, and returns the kernel's report.
func fuzz(ctx context.Context, o options, tmp, mod string, job *vmtest.Fuzz, time time.Duration) *report.Kernel {
	out, err := os.MkdirTemp(tmp, "out-")
	check(err)
	rep, err := vmtest.RunMatrix(ctx, vmtest.Config{Kernels: []string{o.kernel}, Modules: []string{mod}, OutDir: out,
		Accel: "tcg", Jobs: 1, TestTimeout: time + margin, Fuzz: job})
	check(err)
	if len(rep.Kernels) != 1 || fuzzTest(rep.Kernels[0]) == nil {
		log.Fatalf("no fuzz job ran on %s: %+v", o.kernel, rep.Kernels)
	}
	return rep.Kernels[0]
}

// fuzzTest is k's fuzz job.
func fuzzTest(k *report.Kernel) *report.Test {
	for _, t := range k.Tests {
		if t.Package == runcfg.FuzzName && t.Name == runcfg.FuzzName {
			return t
		}
	}
	return nil
}

var finalStat = regexp.MustCompile(`(?m)^stat::(\w+):\s+(\d+)`)

// stats are libFuzzer's final statistics in a job's output.
func stats(output string) map[string]int {
	m := map[string]int{}
	for _, s := range finalStat.FindAllStringSubmatch(output, -1) {
		m[s[1]], _ = strconv.Atoi(s[2])
	}
	return m
}

// magicTry reads a magic-compare run: found if the glue saw KASAN's
// report of the seeded write, after the job's time to it (the job ends at
// the finding).
func magicTry(k *report.Kernel, seed int, cmp bool) try {
	t := fuzzTest(k)
	c, ok, _ := harness.ParseCrash(t.Output)
	found := ok && strings.Contains(c.Report, "slab-out-of-bounds") && strings.Contains(c.Report, "mmapdrv_ioctl")
	tr := try{seed: seed, cmp: cmp, found: found, execs: stats(t.Output)["number_of_executed_units"]}
	if found {
		tr.after = time.Duration(t.Elapsed * float64(time.Second)).Round(time.Second)
	}
	return tr
}

// results is the section: the machine, the parameters, the rate, and
// the magic-compare tries.
func results(o options, speed *report.Kernel, tries []try, loadBefore string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Fuzzing (kmodvm fuzz)\n\nMeasured by `make bench-fuzz` (bench/fuzzbench) on %s, on this machine:\n\n%s\n",
		begin, time.Now().UTC().Format("2006-01-02 15:04 MST"), machine.Describe())
	fmt.Fprintf(&b, "Parameters: kernel %s, TCG, one guest CPU, one job; execs/s job %s; magic-compare: %d seeds each way, %s budget a try (`-seeds %d -budget %s -exec-time %s`). Load average (1, 5, 15 min) before: %s; after: %s.\n\n",
		speed.Name, o.execTime, o.seeds, o.budget, o.seeds, o.budget, o.execTime, loadBefore, loadAverage())
	if o.note != "" {
		fmt.Fprintf(&b, "Conditions: %s\n\n", o.note)
	}
	st := stats(fuzzTest(speed).Output)
	fmt.Fprintf(&b, "| what | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| the bundled driver's harness (kmod/fuzz/mmapdrv_fuzz.c), execs/s on one guest CPU (goal >= 500) | %d (%d inputs in %d s) |\n",
		st["average_exec_per_sec"], st["number_of_executed_units"], int(o.execTime.Seconds()))
	for _, cmp := range []bool{true, false} {
		n, times := 0, []string{}
		for _, t := range tries {
			if t.cmp != cmp {
				continue
			}
			if t.found {
				n++
				times = append(times, fmt.Sprintf("seed %d: %s, %d inputs", t.seed, t.after, t.execs))
			} else {
				times = append(times, fmt.Sprintf("seed %d: not found, %d inputs", t.seed, t.execs))
			}
		}
		how := "comparison operands on"
		if !cmp {
			how = "comparison operands off (`--no-cmp`)"
		}
		fmt.Fprintf(&b, "| magic compare (testdata/fuzzbug/magic-oob.sed), %s: found in | %d of %d seeds (%s) |\n", how, n, o.seeds, strings.Join(times, "; "))
	}
	b.WriteString(end + "\n")
	return b.String()
}

// replaceSection puts section in place of the old one, or at the end.
func replaceSection(doc, section string) string {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i >= 0 && j > i {
		return doc[:i] + section + doc[j+len(end)+1:]
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "?"
}

func mkdir(parent, name string) string {
	p := filepath.Join(parent, name)
	check(os.MkdirAll(p, 0o755))
	return p
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
