package report

import (
	"fmt"
	"sort"
	"strings"
)

// kernelView is a kernel's column in the grid and its section of the page.
type kernelView struct {
	*Kernel
	// N is the kernel's place in the report; ID its section's id.
	N        int
	ID       string
	Head     cell
	Counts   Counts
	Bar      []segment
	BarWidth float64
	// Shown are the tests that neither passed nor were skipped, told
	// first; Folded the passed and skipped ones that printed more than go
	// test's framing; Silent counts the passed ones that printed nothing
	// more, which get no entry of their own: their cell says it all, and
	// a suite of thousands would bury the rest.
	Shown, Folded []testView
	Silent        int
	// FoldTests folds Folded away when the kernel ran more than foldRows
	// tests.
	FoldTests bool
	// cells is the kernel's column of the grid, by test key index.
	cells    []cell
	seen     map[int]bool
	Findings []findingView
	Logs     []logView
	Other    [][2]string // artifacts not embedded: name, path
	Cov      *coverageView
	// Sites are the failure sites of a fault-injection sweep.
	Sites []siteRow
	// Repro is the id of the embedded replay script's text (inside its
	// fold, which a link to it opens), "" when it is not embedded.
	Repro string
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

// logFiles are the Kernel.Files embedded in a kernel's section, in order.
var logFiles = []struct{ name, label string }{
	{"build.log", "build log"}, {"console.log", "console"}, {"dmesg.txt", "kernel log"}, {"repro.sh", "replay script"},
}

// newKernelView makes the i-th kernel's view; index numbers the report's
// tests (TestKeys), the grid's rows.
func newKernelView(i int, k *Kernel, index map[TestKey]int, opts HTMLOptions, maxTotal float64) *kernelView {
	kv := &kernelView{Kernel: k, N: i, ID: fmt.Sprintf("k%d-%s", i, slug(k.Name)), Counts: k.Counts()}
	c := kv.Counts
	kv.Head = newCell(k.Status, fmt.Sprintf("%s %d/%d", k.Status, c.Pass, c.Pass+c.Fail+c.Other), "#"+kv.ID, firstLine(k.Error))
	kv.Bar, kv.BarWidth = timingBar(k.Timing, maxTotal)
	kv.Cov = newCoverageView(kv.ID, k)
	kv.Sites = k.siteRows()
	for j, f := range k.Findings {
		fv := findingView{Finding: f, ID: fmt.Sprintf("%s-f%d", kv.ID, j), Bug: f.Kind != KindTaint}
		fv.Trace, fv.Excerpts = sourceViews(f, fv.ID, opts.EmbedLogs)
		kv.Findings = append(kv.Findings, fv)
	}
	kv.addTests(index)
	kv.addFiles(opts)
	return kv
}

// addTests makes the kernel's column of the grid and its tests' entries.
func (kv *kernelView) addTests(index map[TestKey]int) {
	kv.cells = make([]cell, len(index))
	for i := range kv.cells {
		kv.cells[i] = testCell(NotRun, "", "did not run on this kernel")
	}
	kv.seen = map[int]bool{}
	kv.FoldTests = len(kv.Kernel.Tests) > foldRows
	for _, t := range kv.Kernel.Tests {
		key := TestKey{t.Package, t.Name}
		ti, ok := index[key]
		if !ok || kv.seen[ti] {
			continue
		}
		kv.seen[ti] = true
		silent := t.Status == Pass && len(t.Findings) == 0 && !saysMore(t.Output)
		tv := testView{Test: t, ID: kv.testID(ti)}
		tv.Cell = testCell(t.Status, "#"+tv.ID, cellTip(kv.Kernel, t))
		if silent {
			tv.Cell.Href = ""
		}
		for _, f := range t.Findings {
			if f >= 0 && f < len(kv.Findings) {
				tv.Findings = append(tv.Findings, link{"#" + kv.Findings[f].ID, kv.Findings[f].Title})
				tv.Cell.Finding = findingSymbol
			}
		}
		kv.cells[ti] = tv.Cell
		switch {
		case silent:
			kv.Silent++
		case t.Status == Pass || t.Status == Skip:
			tv.Output = highlightTest(t.Output)
			kv.Folded = append(kv.Folded, tv)
		default:
			tv.Output = highlightTest(t.Output)
			kv.Shown = append(kv.Shown, tv)
		}
	}
}

// testID is the id of the entry of the ti-th test of the report (a
// short one: a big report links thousands).
func (kv *kernelView) testID(ti int) string { return fmt.Sprintf("k%d-t%d", kv.N, ti) }

// cellTip says in a test's cell's tooltip why it did not pass (its row
// names it): a pass has none, thousands of them would only weigh.
func cellTip(k *Kernel, t *Test) string {
	if t.Status == Pass || t.Status == Skip {
		return ""
	}
	return clipTip(testWhy(k, t))
}

// maxTip bounds a cell's tooltip.
const maxTip = 100

func clipTip(s string) string {
	if len(s) <= maxTip {
		return s
	}
	return strings.ToValidUTF8(s[:maxTip], "") + "…"
}

// saysMore reports whether a test's output holds more than go test's
// framing of it ("=== RUN", "--- PASS").
func saysMore(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if s := strings.TrimSpace(l); s != "" && !framingLine(s) {
			return true
		}
	}
	return false
}

// addFiles embeds the kernel's logs and lists its other artifacts.
func (kv *kernelView) addFiles(opts HTMLOptions) {
	k := kv.Kernel
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
				lv := readLogView(kv.ID+"-"+slug(lf.name), lf.label, path, limit, marks)
				if lf.name == "repro.sh" && len(lv.Chunks) > 0 {
					kv.Repro = lv.ID + "-text"
				}
				kv.Logs = append(kv.Logs, lv)
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
