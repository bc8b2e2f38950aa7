package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// HTMLOptions controls WriteHTML. The zero value renders the results
// without the logs.
type HTMLOptions struct {
	// Title heads the page; empty means "kmodvm report".
	Title string
	// EmbedLogs embeds the end of each kernel's build log, console and
	// kernel log (read from Kernel.Files), with findings highlighted.
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

// logFiles are the Kernel.Files embedded in a kernel's section, in order.
var logFiles = []struct{ name, label string }{
	{"build.log", "build log"}, {"console.log", "console"}, {"dmesg.txt", "kernel log"},
}

// WriteHTML writes r as one self-contained HTML page: the matrix as a
// colour grid whose cells link to each test's output, then a section per
// kernel with its build, boot, modules, findings, timing and logs. The page
// loads nothing and runs no script, so it can be attached to a CI run or
// mailed as it is.
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
	Rows     []row
	Legend   []cell
	Phases   []string
	KCounts  struct{ Pass, Fail, Error int }
	Tests    Counts
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

type row struct {
	Kind  string // step, pkg, test or findings
	Name  string
	Tip   string
	Depth int
	Cells []cell
}

type kernelView struct {
	*Kernel
	ID       string
	Head     cell
	Counts   Counts
	Bar      []segment
	BarWidth float64
	Tests    []testView
	Findings []findingView
	Logs     []logView
	Other    [][2]string // artifacts not embedded: name, path
	Cov      *coverageView
}

type segment struct {
	Phase   string
	Seconds float64
	Pct     float64
	Label   bool // wide enough to name itself
}

type testView struct {
	*Test
	ID       string
	Cell     cell
	Findings []link
	Output   []chunk
}

type link struct{ Href, Text string }

type findingView struct {
	Finding
	ID       string
	Bug      bool
	Trace    []traceLine
	Excerpts []excerpt
}

type logView struct {
	ID, Label, Path, Note, Err string
	Chunks                     []chunk
	Marks                      int
}

// chunk is a run of log lines, highlighted or not.
type chunk struct {
	Text  string
	Mark  bool
	Title string
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
	maxTotal := 0.0
	for _, k := range r.Kernels {
		maxTotal = max(maxTotal, k.Timing.Total, k.Timing.sum())
	}
	for i, k := range r.Kernels {
		kv := newKernelView(i, k, keys, opts, maxTotal)
		p.Kernels = append(p.Kernels, kv)
		switch {
		case k.Status == Pass:
			p.KCounts.Pass++
		case k.Status == Error:
			p.KCounts.Error++
		default:
			p.KCounts.Fail++
		}
		p.Tests.Pass += kv.Counts.Pass
		p.Tests.Fail += kv.Counts.Fail
		p.Tests.Skip += kv.Counts.Skip
		p.Tests.Other += kv.Counts.Other
	}
	switch {
	case r.InfraError():
		p.Verdict = newCell(Error, "error", "", "kmodvm or a VM broke on at least one kernel")
	case r.Failed():
		p.Verdict = newCell(Fail, "fail", "", "")
	case len(r.Kernels) == 0:
		p.Verdict = newCell(NotRun, "no kernels", "", "")
	default:
		p.Verdict = newCell(Pass, "pass", "", "")
	}
	p.Rows = matrixRows(p.Kernels, keys)
	for _, s := range []Status{Pass, Fail, Skip, Timeout, Crash, Error, NotRun} {
		p.Legend = append(p.Legend, newCell(s, "", "", ""))
	}
	return p
}

func newKernelView(i int, k *Kernel, keys []TestKey, opts HTMLOptions, maxTotal float64) *kernelView {
	kv := &kernelView{Kernel: k, ID: fmt.Sprintf("k%d-%s", i, slug(k.Name)), Counts: k.Counts()}
	c := kv.Counts
	kv.Head = newCell(k.Status, fmt.Sprintf("%s %d/%d", k.Status, c.Pass, c.Pass+c.Fail+c.Other), "#"+kv.ID, firstLine(k.Error))
	kv.Bar, kv.BarWidth = timingBar(k.Timing, maxTotal)
	kv.Cov = newCoverageView(kv.ID, k)
	for j, f := range k.Findings {
		fv := findingView{Finding: f, ID: fmt.Sprintf("%s-f%d", kv.ID, j), Bug: f.Kind != KindTaint}
		fv.Trace, fv.Excerpts = sourceViews(f, fv.ID, opts.EmbedLogs)
		kv.Findings = append(kv.Findings, fv)
	}
	for ti, key := range keys {
		t := k.Find(key)
		if t == nil {
			continue
		}
		tv := testView{Test: t, ID: fmt.Sprintf("%s-t%d", kv.ID, ti), Output: highlightTest(t.Output)}
		tv.Cell = newCell(t.Status, "", "#"+tv.ID, key.Package+": "+key.Name)
		for _, f := range t.Findings {
			if f >= 0 && f < len(k.Findings) {
				tv.Findings = append(tv.Findings, link{"#" + kv.Findings[f].ID, k.Findings[f].Title})
				tv.Cell.Finding = findingSymbol
			}
		}
		kv.Tests = append(kv.Tests, tv)
	}
	embedded := map[string]bool{}
	if opts.EmbedLogs {
		limit := opts.MaxLogBytes
		if limit <= 0 {
			limit = defaultMaxLogBytes
		}
		marks := newMarker(k.Bugs())
		for _, lf := range logFiles {
			if path := k.Files[lf.name]; path != "" {
				embedded[lf.name] = true
				kv.Logs = append(kv.Logs, readLogView(kv.ID+"-"+slug(lf.name), lf.label, path, limit, marks))
			}
		}
	}
	names := make([]string, 0, len(k.Files))
	for name := range k.Files {
		if !embedded[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		kv.Other = append(kv.Other, [2]string{name, k.Files[name]})
	}
	return kv
}

func matrixRows(kvs []*kernelView, keys []TestKey) []row {
	rows := []row{
		stepRow("build", kvs, buildCell),
		stepRow("boot", kvs, bootCell),
		stepRow("load", kvs, loadCell),
	}
	pkg := ""
	for ti, key := range keys {
		if key.Package != pkg {
			pkg = key.Package
			rows = append(rows, row{Kind: "pkg", Name: pkg})
		}
		name := key.Name
		depth := strings.Count(name, "/")
		if depth > 0 {
			name = name[strings.LastIndex(name, "/"):]
		}
		r := row{Kind: "test", Name: name, Tip: key.Package + ": " + key.Name, Depth: depth}
		for _, kv := range kvs {
			id := fmt.Sprintf("%s-t%d", kv.ID, ti)
			c := newCell(NotRun, "", "", "did not run on this kernel")
			for _, tv := range kv.Tests {
				if tv.ID == id {
					c = tv.Cell
				}
			}
			r.Cells = append(r.Cells, c)
		}
		rows = append(rows, r)
	}
	rows = append(rows, stepRow("findings", kvs, findingsCell))
	rows[len(rows)-1].Kind = "findings"
	return rows
}

func stepRow(name string, kvs []*kernelView, f func(*kernelView) cell) row {
	r := row{Kind: "step", Name: name}
	for _, kv := range kvs {
		r.Cells = append(r.Cells, f(kv))
	}
	return r
}

func buildCell(kv *kernelView) cell {
	b := kv.Build
	if b == nil {
		return newCell(NotRun, "", "#"+kv.ID, "no build")
	}
	text := string(b.Status)
	if n := len(b.Warnings); n > 0 {
		text += fmt.Sprintf(" %d⚠", n)
	}
	return newCell(b.Status, text, "#"+kv.ID+"-build", firstLine(b.Error))
}

func bootCell(kv *kernelView) cell {
	b := kv.Boot
	if b == nil {
		return newCell(NotRun, "", "#"+kv.ID, "no boot")
	}
	return newCell(b.Status, "", "#"+kv.ID+"-boot", strings.TrimSpace(b.Exit+" "+firstLine(b.Error)))
}

func loadCell(kv *kernelView) cell {
	if len(kv.Modules) == 0 {
		return newCell(NotRun, "", "#"+kv.ID, "no module loaded")
	}
	st, text, tips := Pass, "pass", []string{}
	for _, m := range kv.Modules {
		switch {
		case m.Load != Pass:
			st, text = Fail, "load "+string(m.Load)
			tips = append(tips, m.Name+": "+firstLine(m.Error))
		case m.Unload != "" && m.Unload != Pass && st == Pass:
			st, text = Fail, "unload "+string(m.Unload)
			tips = append(tips, m.Name+": unload: "+firstLine(m.UnloadError))
		}
	}
	return newCell(st, text, "#"+kv.ID+"-modules", strings.Join(tips, "; "))
}

func findingsCell(kv *kernelView) cell {
	n := len(kv.Bugs())
	if n == 0 && kv.Boot == nil {
		return newCell(NotRun, "", "#"+kv.ID+"-findings", "the kernel was not booted")
	}
	if n == 0 {
		return newCell(Pass, "none", "#"+kv.ID+"-findings", "no kernel-log findings")
	}
	c := newCell(Fail, fmt.Sprint(n), "#"+kv.ID+"-findings", fmt.Sprintf("%d kernel-log finding(s)", n))
	c.Symbol = findingSymbol
	return c
}

// phases are the timing bar's segments, in the order they happen.
var phases = []string{"fetch", "build", "image", "boot", "tests", "other"}

func (t Timing) sum() float64 { return t.Fetch + t.Build + t.Image + t.Boot + t.Tests }

// timingBar splits a kernel's time into segments (percentages of the
// kernel's own bar) and sizes the bar against the slowest kernel, so that
// both the phases and the kernels compare at a glance.
func timingBar(t Timing, maxTotal float64) ([]segment, float64) {
	total := max(t.Total, t.sum())
	if total <= 0 || maxTotal <= 0 {
		return nil, 0
	}
	var segs []segment
	for i, v := range []float64{t.Fetch, t.Build, t.Image, t.Boot, t.Tests, total - t.sum()} {
		if v > 0 {
			segs = append(segs, segment{Phase: phases[i], Seconds: v, Pct: 100 * v / total})
		}
	}
	width := 100 * total / maxTotal
	for i := range segs {
		segs[i].Label = segs[i].Pct*width/100 >= 8
	}
	return segs, width
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
