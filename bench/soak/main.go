// Command soak runs kmodvm's kernel matrix again and again and reports how
// reliable the runs were: infrastructure errors and boot retries (goal 0),
// flaky tests (a test whose status differs across rounds on one kernel),
// and the spread of boot times per kernel.
//
// It writes a Markdown report (bench/SOAK.md by default) and exits 1 when
// a goal was missed. `make soak` runs it with defaults that boot at least
// 50 VMs on the default four kernels.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/kmodvm/kmodvm/bench/internal/machine"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
)

func main() {
	rounds := flag.Int("rounds", 13, "runs of the matrix (13 x 4 kernels = 52 boots)")
	duration := flag.Duration("duration", 20*time.Minute, "start no round after this much time, and cut a round that runs past it")
	kernels := flag.String("kernels", strings.Join(vmtest.DefaultKernels(), ","), "kernel selectors")
	module := flag.String("module", "kmod", "module directory")
	tests := flag.String("tests", "guest/mmapdrv", "guest test package directory")
	out := flag.String("out", "bench/SOAK.md", "Markdown report")
	keep := flag.String("keep", "", "keep the artifacts of rounds with an infrastructure error or a failure here (default: a temporary directory, printed)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(*duration))
	defer cancel()

	work, err := os.MkdirTemp("", "kmodvm-soak-")
	check(err)
	defer os.RemoveAll(work)
	if *keep == "" {
		*keep = filepath.Join(os.TempDir(), fmt.Sprintf("kmodvm-soak-kept-%d", os.Getpid()))
	}

	s := newSoak()
	var walls []float64
	cut := ""
	for i := 1; i <= *rounds; i++ {
		if len(walls) > 0 && time.Until(start.Add(*duration)) < time.Duration(walls[len(walls)-1]*float64(time.Second)) {
			cut = fmt.Sprintf("stopped after %d of %d rounds: another would not finish within -duration %s", i-1, *rounds, *duration)
			break
		}
		dir := filepath.Join(work, fmt.Sprint(i))
		t0 := time.Now()
		rep, err := vmtest.RunMatrix(ctx, vmtest.Config{
			Kernels: strings.Split(*kernels, ","), Modules: []string{*module}, Tests: []string{*tests}, OutDir: dir,
		})
		check(err)
		if rep.Partial {
			cut = fmt.Sprintf("round %d of %d was cut short (%v) and is not counted", i, *rounds, context.Cause(ctx))
			break
		}
		walls = append(walls, time.Since(t0).Seconds())
		s.add(rep)
		boots, retries, infra := s.totals()
		log.Printf("round %d/%d: %.1f s; so far %d boots, %d retries, %d infrastructure errors, %d flaky tests",
			i, *rounds, walls[len(walls)-1], boots, retries, infra, len(s.flaky()))
		if rep.Failed() {
			kept := filepath.Join(*keep, fmt.Sprint(i))
			check(os.MkdirAll(filepath.Dir(kept), 0o755))
			check(os.Rename(dir, kept))
			log.Printf("round %d did not pass; its artifacts are in %s", i, kept)
		} else {
			os.RemoveAll(dir)
		}
	}
	if cut != "" {
		log.Print(cut)
	}
	md := render(s, walls, time.Since(start), cut)
	check(os.WriteFile(*out, []byte(md), 0o644))
	fmt.Print(md)
	_, retries, infra := s.totals()
	if infra > 0 || retries > 0 || s.failures() > 0 || len(s.flaky()) > 0 || s.rounds == 0 {
		os.Exit(1)
	}
}

// render writes the soak report.
func render(s *soak, walls []float64, took time.Duration, cut string) string {
	var b strings.Builder
	boots, retries, infra := s.totals()
	flaky := s.flaky()
	fmt.Fprintf(&b, "# kmodvm soak results\n\nMeasured by `make soak` (bench/soak) on %s: `%s`.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(append([]string{"go run ./bench/soak"}, os.Args[1:]...), " "))
	fmt.Fprintf(&b, "## Machine\n\n%s\n", machine.Describe())
	fmt.Fprintf(&b, "## Summary\n\n| what | value | goal |\n|---|---|---|\n")
	lo, med, hi := spread(walls)
	fmt.Fprintf(&b, "| rounds (whole matrix) | %d, %.0f s in all; a round took %.1f / %.1f / %.1f s (min / median / max) | |\n", s.rounds, took.Seconds(), lo, med, hi)
	fmt.Fprintf(&b, "| VM boots | %d | at least 50 |\n", boots)
	fmt.Fprintf(&b, "| infrastructure errors (kernels with status error) | %d | 0 |\n", infra)
	fmt.Fprintf(&b, "| boots retried (an infrastructure failure the retry hid) | %d | 0 |\n", retries)
	fmt.Fprintf(&b, "| failed kernel runs (the suite failed) | %d | 0 |\n", s.failures())
	fmt.Fprintf(&b, "| flaky tests (status differs across rounds on one kernel) | %d | 0 |\n", len(flaky))
	if cut != "" {
		fmt.Fprintf(&b, "\nNote: %s.\n", cut)
	}
	b.WriteString("\n## Per kernel\n\nBoot: VM start to the guest agent's hello (Timing.Boot), seconds.\n\n")
	b.WriteString("| kernel | rounds | boots | retries | infra errors | failed rounds | tests per round | boot min | boot median | boot max |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, key := range s.order {
		k := s.kernels[key]
		lo, med, hi := spread(k.boot)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f |\n",
			k.name, k.runs, k.boots, k.retries, k.infraErrors, k.failures, len(k.tests), lo, med, hi)
	}
	if len(flaky) > 0 {
		b.WriteString("\n## Flaky tests\n\n")
		for _, f := range flaky {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	if len(s.errors) > 0 {
		b.WriteString("\n## Infrastructure errors\n\n")
		for _, e := range s.errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	return b.String()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
