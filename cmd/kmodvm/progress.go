package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"golang.org/x/sys/unix"
)

// progress shows a run's steps while it lasts.
type progress interface {
	step(vmtest.Step)
	// log is where diagnostic lines (downloads, toolchain set-up) go while
	// the run lasts; nil discards them.
	log() io.Writer
	// finish shows each kernel's verdict and returns once the display is
	// final, so that what is printed next comes after it.
	finish(*report.Report)
}

// newProgress picks live bars for a person at a terminal and plain lines
// for logs: CI systems capture a terminal-like stream but show it as text,
// where redrawn bars become noise.
func newProgress(w io.Writer, g *globalFlags, kernels []string, expect map[string]int) progress {
	if !g.quiet && wantBars(isTerminal(w), os.Getenv) {
		return newBars(w, kernels, g.verbose, expect)
	}
	return newPlain(w, g.quiet, g.verbose)
}

func wantBars(tty bool, getenv func(string) string) bool {
	return tty && getenv("CI") != "true" && getenv("GITHUB_ACTIONS") != "true" && getenv("TERM") != "dumb"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// expectedTests returns how many tests each kernel ran in the previous run
// of the same command into the same directory, the best guess at how many
// this one runs (a guest test binary does not say before it ends). A
// different command may select other tests, so it gives no guess.
func expectedTests(reportPath, command string) map[string]int {
	prev, err := report.ReadFile(reportPath)
	if err != nil || prev.Host.Command != command {
		return nil
	}
	m := map[string]int{}
	for _, k := range prev.Kernels {
		if k.Status == report.Pass || k.Status == report.Fail {
			m[k.Name] = len(k.Tests)
		}
	}
	return m
}

// plain prints one line per kernel and phase (every step with -v), with
// no control characters, for logs and CI.
type plain struct {
	mu             sync.Mutex
	w              io.Writer
	quiet, verbose bool
	start          time.Time
	last           map[string]vmtest.Phase
	fuzz           fuzzLive
}

func newPlain(w io.Writer, quiet, verbose bool) *plain {
	return &plain{w: w, quiet: quiet, verbose: verbose, start: time.Now(), last: map[string]vmtest.Phase{}, fuzz: fuzzLive{}}
}

func (p *plain) step(s vmtest.Step) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// A fuzz job's numbers: a line each plainFuzzEvery, and at a finding.
	if j, finding, ok := p.fuzz.take(s); ok {
		if j.due(s.At, finding) {
			fmt.Fprintf(p.w, "[%6.1fs] %-24s %s\n", s.At.Sub(p.start).Seconds(), s.Kernel, j)
		}
		return
	}
	again := p.last[s.Kernel] == s.Phase
	p.last[s.Kernel] = s.Phase
	if again && !p.verbose {
		return // download percentages and test counts are for the live view
	}
	detail := ""
	if s.Detail != "" {
		detail = " " + s.Detail
	}
	fmt.Fprintf(p.w, "[%6.1fs] %-24s %s%s\n", s.At.Sub(p.start).Seconds(), s.Kernel, s.Phase, detail)
}

func (p *plain) log() io.Writer {
	if p.quiet {
		return nil
	}
	return p.w
}

func (p *plain) finish(*report.Report) {}

// testStep is what a tests step's detail says: vmtest reports "12 run" as
// each test starts and "pass TestX" (fail, skip) as each one ends.
type testStep struct {
	started int
	result  report.Status
	name    string
}

func parseTestStep(detail string) (testStep, bool) {
	var ts testStep
	if n, err := fmt.Sscanf(detail, "%d run", &ts.started); n == 1 && err == nil {
		return ts, true
	}
	verb, name, ok := strings.Cut(detail, " ")
	switch report.Status(verb) {
	case report.Pass, report.Fail, report.Skip:
		if ok && name != "" {
			return testStep{result: report.Status(verb), name: name}, true
		}
	}
	return testStep{}, false
}

// lineWriter passes on whole lines only, so that lines written in pieces
// (apt's output) never split a redrawn display.
type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	if i := strings.LastIndexByte(string(l.buf), '\n'); i >= 0 {
		_, err := l.w.Write(l.buf[:i+1])
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
		if err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}

// elapsed formats a duration the way the bars show it: "8.2s", "3m05s".
func elapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
