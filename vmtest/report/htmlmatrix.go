package report

import (
	"fmt"
	"strings"
)

// foldRows is the size of a suite past which its passing rows are folded:
// a suite of thousands of results (a sweep of error paths, a fuzzer's)
// would push its few failures and the kernels' sections out of sight.
const foldRows = 30

// matrix is the grid: the steps, each suite's tests in a body of its own,
// and the findings.
type matrix struct {
	Steps    []row
	Suites   []suite
	Findings row
	// Bad, Flagged and Skipped count the rows each filter shows.
	Bad, Flagged, Skipped int
	// Folds says whether a suite folds its passing rows.
	Folds bool
}

// suite is one package's rows.
type suite struct {
	Name string
	Rows []row
	// Fold says the suite's passing rows start folded; OK counts them.
	Fold bool
	OK   int
}

type row struct {
	Kind  string // step, test or findings
	Name  string
	Tip   string
	Depth int
	// Class says which filters show the row: bad (a failure), flag (a
	// finding), skip; ok when it has neither failure nor finding.
	Class string
	Cells []cell
}

func newMatrix(kvs []*kernelView, keys []TestKey) matrix {
	m := matrix{Steps: []row{
		stepRow("build", kvs, buildCell),
		stepRow("boot", kvs, bootCell),
		stepRow("load", kvs, loadCell),
	}}
	m.Findings = stepRow("findings", kvs, findingsCell)
	m.Findings.Kind, m.Findings.Class = "findings", "findings"
	for ti, key := range keys {
		if len(m.Suites) == 0 || m.Suites[len(m.Suites)-1].Name != key.Package {
			m.Suites = append(m.Suites, suite{Name: key.Package})
		}
		s := &m.Suites[len(m.Suites)-1]
		r := testRow(kvs, ti, key)
		s.Rows = append(s.Rows, r)
		m.tally(s, r)
	}
	for i := range m.Suites {
		s := &m.Suites[i]
		s.Fold = len(s.Rows) > foldRows && s.OK > 0
		m.Folds = m.Folds || s.Fold
	}
	return m
}

// tally counts r for the filters and its suite's fold.
func (m *matrix) tally(s *suite, r row) {
	has := func(c string) bool { return strings.Contains(" "+r.Class+" ", " "+c+" ") }
	if has("ok") {
		s.OK++
	}
	if has("bad") {
		m.Bad++
	}
	if has("flag") {
		m.Flagged++
	}
	if has("skip") {
		m.Skipped++
	}
}

// testRow is a test's row: its cell on each kernel, and the classes the
// filters select it by.
func testRow(kvs []*kernelView, ti int, key TestKey) row {
	name := key.Name
	depth := strings.Count(name, "/")
	if depth > 0 {
		name = name[strings.LastIndex(name, "/"):]
	}
	r := row{Kind: "test", Name: name, Tip: key.Package + ": " + key.Name, Depth: min(depth, 3)}
	bad, flag, skip := false, false, false
	for _, kv := range kvs {
		c := kv.cells[ti]
		bad = bad || c.Status.Failed() || c.Status == Error
		flag = flag || c.Finding != ""
		skip = skip || c.Status == Skip
		r.Cells = append(r.Cells, c)
	}
	classes := []string{"test"}
	if !bad && !flag {
		classes = append(classes, "ok")
	}
	for _, c := range []struct {
		on   bool
		name string
	}{{bad, "bad"}, {flag, "flag"}, {skip, "skip"}} {
		if c.on {
			classes = append(classes, c.name)
		}
	}
	r.Class = strings.Join(classes, " ")
	return r
}

func stepRow(name string, kvs []*kernelView, f func(*kernelView) cell) row {
	r := row{Kind: "step", Name: name, Class: "step"}
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
	n, allowed := 0, 0
	for _, f := range kv.Bugs() {
		if f.Allowed != nil {
			allowed++
		} else {
			n++
		}
	}
	switch {
	case n == 0 && allowed == 0 && kv.Boot == nil:
		return newCell(NotRun, "", "#"+kv.ID+"-findings", "the kernel was not booted")
	case n == 0 && allowed == 0:
		return newCell(Pass, "none", "#"+kv.ID+"-findings", "no kernel-log findings")
	case n == 0:
		return newCell(Skip, fmt.Sprintf("%d allowed", allowed), "#"+kv.ID+"-findings", fmt.Sprintf("%d kernel-log finding(s), each allowed by the allow-list", allowed))
	}
	tip := fmt.Sprintf("%d kernel-log finding(s)", n)
	if allowed > 0 {
		tip += fmt.Sprintf(", and %d allowed", allowed)
	}
	c := newCell(Fail, fmt.Sprint(n), "#"+kv.ID+"-findings", tip)
	c.Symbol = findingSymbol
	return c
}
