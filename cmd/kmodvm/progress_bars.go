package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// phases are a kernel's steps in order; its bar has a part for each but
// done, and is full once the kernel has run its tests.
var phases = []vmtest.Phase{vmtest.PhaseFetch, vmtest.PhaseBuild, vmtest.PhaseImage, vmtest.PhaseBoot, vmtest.PhaseTests, vmtest.PhaseDone}

func phaseIndex(p vmtest.Phase) int64 {
	for i, q := range phases {
		if q == p {
			return int64(i)
		}
	}
	return 0
}

// row is one kernel's line. Its fields are guarded by bars.mu.
type row struct {
	sel, name   string // the selector, and the kernel's name once fetched
	phase       vmtest.Phase
	detail      string
	started     bool
	tested      bool // reached its tests
	start, end  time.Time
	status      report.Status // once done
	run, expect int           // tests started, and how many the last run had
	passed      int
	failed      int
	final       string // the verdict after the run
	bar         *mpb.Bar
}

// bars shows one live line per kernel with mpb.
type bars struct {
	mu      sync.Mutex
	p       *mpb.Progress
	verbose bool
	rows    []*row
	byName  map[string]*row
	expect  map[string]int
	out     *lineWriter
	// fuzz are the fuzz jobs' numbers, and jobBars their lines, below
	// the kernels', one per job, by the jobLive they show.
	fuzz    fuzzLive
	jobBars map[*jobLive]*mpb.Bar
}

func newBars(w io.Writer, kernels []string, verbose bool, expect map[string]int, opts ...mpb.ContainerOption) *bars {
	b := &bars{verbose: verbose, byName: map[string]*row{}, expect: expect, fuzz: fuzzLive{}, jobBars: map[*jobLive]*mpb.Bar{}}
	b.p = mpb.New(append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)...)
	b.out = &lineWriter{w: b.p}
	for _, k := range kernels {
		b.addRow(k)
	}
	return b
}

// addRow adds a kernel's line. Its bar's total stays open (mpb's 0) until
// finish, so that a kernel that is done keeps its line live for the
// verdict. The caller must not hold b.mu (see step).
func (b *bars) addRow(sel string) *row {
	r := &row{sel: sel, name: sel}
	text := func(f func(*row) string) decor.DecorFunc {
		return func(decor.Statistics) string {
			b.mu.Lock()
			defer b.mu.Unlock()
			return f(r)
		}
	}
	r.bar = b.p.New(0, mpb.BarStyle().Lbound("[").Rbound("]").Filler("=").Tip(">").Padding(" "),
		mpb.BarWidth(14),
		mpb.PrependDecorators(
			decor.Any(text(mark), decor.WC{W: 3, C: decor.DindentRight}),
			decor.Any(text(func(r *row) string { return r.name }), decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(
			decor.Any(text(func(r *row) string { return " " + r.elapsed() }), decor.WC{W: 8}),
			decor.Any(text(func(r *row) string { return "  " + r.describe() })),
		),
	)
	r.bar.SetTotal(int64(len(phases)-1), false)
	b.mu.Lock()
	b.rows = append(b.rows, r)
	b.byName[sel] = r
	b.mu.Unlock()
	return r
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func mark(r *row) string {
	switch {
	case r.status != "":
		return report.Mark(r.status)
	case !r.started:
		return "·"
	}
	return spinner[time.Now().UnixMilli()/100%int64(len(spinner))]
}

func (r *row) elapsed() string {
	switch {
	case !r.started:
		return "-"
	case !r.end.IsZero():
		return elapsed(r.end.Sub(r.start))
	}
	return elapsed(time.Since(r.start))
}

// describe says where the kernel is: "fetch 42% of 85 MB", "tests 12/116".
func (r *row) describe() string {
	switch {
	case r.final != "":
		return r.final
	case !r.started:
		return "waiting"
	case r.phase == vmtest.PhaseTests && r.run > 0:
		s := fmt.Sprintf("tests %d run", r.run)
		if r.expect >= r.run {
			s = fmt.Sprintf("tests %d/%d", r.run, r.expect)
		}
		if r.failed > 0 {
			s += fmt.Sprintf(", %d failed", r.failed)
		}
		return s
	case r.phase == vmtest.PhaseDone:
		return "done " + string(r.status)
	case r.detail != "" && r.phase != vmtest.PhaseTests:
		return string(r.phase) + " " + r.detail
	}
	return string(r.phase)
}

func (b *bars) step(s vmtest.Step) {
	b.mu.Lock()
	if j, _, ok := b.fuzz.take(s); ok {
		_, shown := b.jobBars[j]
		if !shown {
			b.jobBars[j] = nil // added below, once
		}
		b.mu.Unlock()
		if !shown {
			b.addJobBar(j)
		}
		return
	}
	r := b.rowForSelector(s.Selector, s.Kernel)
	if r == nil {
		r = b.rowFor(s.Kernel)
	}
	if r == nil { // a kernel no selector fits: a line of its own
		b.mu.Unlock()
		r = b.addRow(s.Kernel)
		b.mu.Lock()
	}
	if !r.started {
		r.started, r.start = true, s.At
	}
	r.phase, r.detail = s.Phase, s.Detail
	if r.expect == 0 {
		r.expect = b.expect[r.name]
	}
	var line string
	switch s.Phase {
	case vmtest.PhaseTests:
		r.tested = true
		if ts, ok := parseTestStep(s.Detail); ok {
			r.run = max(r.run, ts.started)
			switch ts.result {
			case report.Pass:
				r.passed++
			case report.Fail:
				r.failed++
			}
			if ts.name != "" && b.verbose {
				line = fmt.Sprintf("%s %s %s: %s\n", report.Mark(ts.result), r.name, ts.name, ts.result)
			}
		}
	case vmtest.PhaseDone:
		r.end, r.status = s.At, report.Status(s.Detail)
	}
	bar, cur := r.bar, phaseIndex(s.Phase)
	if s.Phase == vmtest.PhaseDone && !r.tested {
		cur = -1 // a kernel that stopped early shows where
	}
	b.mu.Unlock()
	// mpb runs the decorators, which take b.mu, on the bar's goroutine that
	// these calls wait for: they must come after the unlock. The open total
	// keeps a full bar from completing before finish.
	if cur >= 0 {
		bar.SetCurrent(cur)
	}
	if line != "" {
		b.out.Write([]byte(line))
	}
}

// rowForSelector returns the line of the selector a step names, learning
// the kernel's name from it; nil when the step names no selector of ours.
func (b *bars) rowForSelector(sel, name string) *row {
	if sel == "" {
		return nil
	}
	for _, r := range b.rows {
		if r.sel == sel {
			if name != "" && r.name != name {
				r.name = name
				b.byName[name] = r
			}
			return r
		}
	}
	return nil
}

// rowFor returns the line of the kernel a step names, for steps that do not
// name their selector. A step names a
// kernel by its selector until it is fetched and by its name after (a
// download's progress already by its name), and several kernels can be
// fetching at once: a new name goes to the fetching selector it fits, or
// to none (nil).
func (b *bars) rowFor(name string) *row {
	if r, ok := b.byName[name]; ok {
		return r
	}
	var best *row
	bestFit := 0
	for _, r := range b.rows {
		if r.name != r.sel || !r.started || r.phase != vmtest.PhaseFetch {
			continue
		}
		if f := fits(r.sel, name); f > bestFit {
			best, bestFit = r, f
		}
	}
	if best == nil {
		return nil
	}
	best.name = name
	b.byName[name] = best
	return best
}

// fits scores how well a kernel's name fits a selector: 2 for one that
// names its series (or release) and flavour, 1 for one that could name
// anything (a path, latest), 0 for none.
func fits(sel, name string) int {
	s, err := kernel.ParseSelector(sel)
	if err != nil {
		return 0
	}
	switch s.Kind {
	case kernel.Path, kernel.Latest:
		return 1
	}
	n, err := kernel.ParseSelector(name)
	if err != nil || n.Kind != kernel.ABI || n.Series != s.Series || n.Flavour != s.Flavour {
		return 0
	}
	if s.Kind == kernel.Release && !strings.HasPrefix(name, s.Release) {
		return 0
	}
	return 2
}

func (b *bars) log() io.Writer { return b.out }

// finish writes each kernel's verdict into its line, fills the bars of
// kernels that ran their tests, stops the others where they were, and waits
// for mpb's last render. A line the report does not name and that never
// started (the configuration was refused) is dropped.
func (b *bars) finish(rep *report.Report) {
	b.mu.Lock()
	for _, k := range rep.Kernels {
		for _, r := range b.rows {
			if r.sel == k.Selector {
				r.status, r.name, r.final = k.Status, k.Name, verdict(k)
			}
		}
	}
	type end struct {
		bar          *mpb.Bar
		fill, remove bool
	}
	var ends []end
	for _, r := range b.rows {
		ends = append(ends, end{r.bar, r.tested, r.final == "" && !r.started})
	}
	for _, bar := range b.jobBars {
		if bar != nil {
			ends = append(ends, end{bar: bar})
		}
	}
	b.mu.Unlock()
	for _, e := range ends {
		if e.fill {
			e.bar.SetTotal(int64(len(phases)-1), true)
		} else {
			e.bar.Abort(e.remove)
		}
	}
	b.p.Wait()
}

func verdict(k *report.Kernel) string {
	if k.Status == report.Error || k.Status == report.NotRun {
		return string(k.Status)
	}
	c := k.Counts()
	return countsText(c)
}

// addJobBar adds fuzz job j's line: its numbers, redrawn in place. The
// caller must not hold b.mu (see step).
func (b *bars) addJobBar(j *jobLive) {
	bar := b.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
		b.mu.Lock()
		defer b.mu.Unlock()
		return fmt.Sprintf("   %s  %s", j.kernel, j)
	})))
	b.mu.Lock()
	b.jobBars[j] = bar
	b.mu.Unlock()
}
