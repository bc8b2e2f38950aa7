package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"
)

// HTMLOptions controls WriteHTML. The zero value renders the results
// without the logs.
type HTMLOptions struct {
	// Title heads the page; empty means "kmodvm report".
	Title string
	// EmbedLogs embeds the end of each kernel's build log, console and
	// kernel log and its replay script (read from Kernel.Files), with
	// findings highlighted, and excerpts of the module's source at the
	// findings' frames.
	EmbedLogs bool
	// MaxLogBytes bounds each embedded log: only its last MaxLogBytes are
	// kept, because a crash's report is at the end. Zero means 256 KiB.
	MaxLogBytes int64
}

const defaultMaxLogBytes = 256 << 10

//go:embed html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"secs":   seconds,
	"pct":    func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"inc":    func(n int) int { return n + 1 },
	"status": func(s Status) cell { return newCell(s, "", "", "") },
}).Parse(htmlSource))

// htmlSymbols are text, not colour, so that the grid reads without colour
// vision and in grey print; they are all in DejaVu Sans.
var htmlSymbols = map[Status]string{
	Pass: "✓", Fail: "✗", Skip: "↷", Timeout: "◷", Crash: "☠", Error: "⚠", NotRun: "·",
}

// findingSymbol marks a cell whose test the kernel log blamed.
const findingSymbol = "⚑"

// WriteHTML writes r as one self-contained HTML page: what failed first,
// each failure with its findings and source lines, then the matrix as a
// colour grid whose cells link to each test's output (the passing rows of
// a big suite folded), then a section per kernel with its build, boot,
// modules, findings, timing and logs. The page loads nothing and runs no
// script (its folds and filters are form controls and CSS), so it can be
// attached to a CI run or mailed as it is.
func (r *Report) WriteHTML(w io.Writer, opts HTMLOptions) error {
	if err := htmlTemplate.Execute(w, newPage(r, opts)); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

type page struct {
	Title    string
	R        *Report
	Verdict  cell
	Started  string
	Duration string
	Kernels  []*kernelView
	Failed   []failureView
	// MoreFailed are the failures past the first few, folded.
	MoreFailed []failureView
	Matrix     matrix
	Legend     []cell
	Phases     []string
	KCounts    struct{ Pass, Fail, Error, Skip int }
	// Arches, in a report of several architectures, are the matrix's
	// column groups, one per architecture, with how each went.
	Arches []archView
	Tests  Counts
}

// cell is one square of the grid, or a status badge elsewhere.
type cell struct {
	Status             Status
	Symbol, Text       string
	Href, Tip, Finding string
}

func (c cell) Class() string { return "st-" + string(c.Status) }

func newCell(s Status, text, href, tip string) cell {
	sym, ok := htmlSymbols[s]
	if !ok {
		sym = "?"
	}
	if text == "" {
		text = string(s)
	}
	return cell{Status: s, Symbol: sym, Text: text, Href: href, Tip: tip}
}

// testCell is a test's square in the grid: a pass is its symbol alone, so
// that thousands of them stay small and the others stand out.
func testCell(s Status, href, tip string) cell {
	c := newCell(s, "", href, tip)
	if s == Pass || s == NotRun {
		c.Text = ""
	}
	return c
}

func newPage(r *Report, opts HTMLOptions) *page {
	p := &page{Title: opts.Title, R: r, Phases: phases}
	if p.Title == "" {
		p.Title = "kmodvm report"
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.UTC().Format("2006-01-02 15:04:05 MST")
		if !r.Finished.IsZero() {
			p.Duration = seconds(r.Finished.Sub(r.Started).Seconds())
		}
	}
	keys := r.TestKeys()
	index := make(map[TestKey]int, len(keys))
	for i, key := range keys {
		index[key] = i
	}
	maxTotal := 0.0
	for _, k := range r.Kernels {
		maxTotal = max(maxTotal, k.Timing.Total, k.Timing.sum())
	}
	for i, k := range r.Kernels {
		kv := newKernelView(i, k, index, opts, maxTotal)
		p.Kernels = append(p.Kernels, kv)
		p.count(kv)
	}
	p.Verdict = verdictCell(r)
	p.Arches = archViews(r)
	p.Matrix = newMatrix(p.Kernels, keys)
	p.Failed = failureViews(r.Failures(), p.Kernels, index)
	if len(p.Failed) > maxOpenFailures {
		p.Failed, p.MoreFailed = p.Failed[:maxOpenFailures], p.Failed[maxOpenFailures:]
	}
	for _, s := range []Status{Pass, Fail, Skip, Timeout, Crash, Error, NotRun} {
		p.Legend = append(p.Legend, newCell(s, "", "", ""))
	}
	return p
}

// count adds a kernel's verdict and tests to the page's totals.
func (p *page) count(kv *kernelView) {
	switch {
	case kv.Status == Pass:
		p.KCounts.Pass++
	case kv.Status == Error:
		p.KCounts.Error++
	case kv.Status == Skip:
		p.KCounts.Skip++
	default:
		p.KCounts.Fail++
	}
	p.Tests.Pass += kv.Counts.Pass
	p.Tests.Fail += kv.Counts.Fail
	p.Tests.Skip += kv.Counts.Skip
	p.Tests.Other += kv.Counts.Other
}

func verdictCell(r *Report) cell {
	switch {
	case r.InfraError():
		return newCell(Error, "error", "", "kmodvm or a VM broke on at least one kernel")
	case r.Failed():
		return newCell(Fail, "fail", "", "")
	case len(r.Kernels) == 0:
		return newCell(NotRun, "no kernels", "", "")
	}
	return newCell(Pass, "pass", "", "")
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// slug makes a name safe and readable inside an id and a fragment.
func slug(s string) string { return strings.Trim(slugRE.ReplaceAllString(s, "-"), "-") }
