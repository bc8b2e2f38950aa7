// Package ktap parses KTAP, the test output format of the kernel's KUnit
// (KTAP version 1, and the TAP 13/14 it grew from), into a tree of results.
//
// It reads what a kernel actually prints: results files under
// /sys/kernel/debug/kunit and the kernel log, with timestamps before lines
// and other messages between them. It tells a case that crashed (the plan
// promised more results than the log holds when it ends) from one that never
// ran; the kernel's tools/testing/kunit/kunit_parser.py is the reference.
package ktap

import (
	"regexp"
	"strconv"
	"strings"
)

// Status is the outcome of one test.
type Status int

// Statuses, from best to worst of those a log can state, then those the
// parser infers.
const (
	Pass Status = iota
	Skip
	Fail
	// Crash: the test started (it was next in its plan) but the log ended
	// before its result.
	Crash
	// NotRun: the plan promised the test, and a test before it crashed.
	NotRun
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Skip:
		return "skip"
	case Fail:
		return "fail"
	case Crash:
		return "crash"
	case NotRun:
		return "not-run"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Test is one test (a suite, a case, or a parameter of a case) and its
// subtests.
type Test struct {
	// Name is from the result line, or the "# Subtest:" header when the
	// result is missing; "#N" when the log never named it.
	Name   string
	Number int
	Status Status
	// Directive holds the text after "# SKIP" or "# TODO".
	Directive string
	// Diag holds the lines printed before the result that are not KTAP
	// structure (diagnostics and the lines they span), with the test's
	// indentation removed.
	Diag []string
	// Plan is the number of subtests the plan line promised, -1 if none.
	Plan     int
	Subtests []*Test
}

var (
	// A kernel log timestamp ("[   12.345678] ") or a console's caller
	// id ("[    T1] ") before the text.
	logPrefix = regexp.MustCompile(`^(?:<\d+>)?(?:\[\s*[0-9.]+\]\s?|\[\s*[TC]\d+\]\s?)+`)
	versionRe = regexp.MustCompile(`^(K?TAP) version (\d+)\s*$`)
	subtestRe = regexp.MustCompile(`^#\s*Subtest:\s*(.*?)\s*$`)
	planRe    = regexp.MustCompile(`^1\.\.(\d+)(?:\s*#.*)?$`)
	resultRe  = regexp.MustCompile(`^(ok|not ok)\s+(\d+)(?:\s+-)?(?:\s+(.*?))?\s*$`)
	directive = regexp.MustCompile(`(?i)(?:^|\s)#\s*(SKIP|TODO)\b\s*(.*)$`)
)

// MaxFill bounds how many tests the parser adds for a plan the log did not
// fulfil: a garbled plan line must not cost millions of entries.
const MaxFill = 1024

type kind int

const (
	other kind = iota
	version
	subtest
	plan
	result
)

type line struct {
	kind   kind
	indent int
	text   string // after the log prefix, indentation removed
	raw    string // after the log prefix
	// From the line's match: subtest name, plan count, result fields.
	name   string
	count  int
	ok     bool
	number int
}

func classify(s string) line {
	s = strings.TrimRight(s, "\r\n ")
	s = logPrefix.ReplaceAllString(s, "")
	trimmed := strings.TrimLeft(s, " \t")
	l := line{indent: len(s) - len(trimmed), text: trimmed, raw: s}
	switch {
	case versionRe.MatchString(trimmed):
		l.kind = version
	case subtestRe.MatchString(trimmed):
		l.kind = subtest
		l.name = subtestRe.FindStringSubmatch(trimmed)[1]
	case planRe.MatchString(trimmed):
		l.kind = plan
		l.count, _ = strconv.Atoi(planRe.FindStringSubmatch(trimmed)[1])
	case resultRe.MatchString(trimmed):
		m := resultRe.FindStringSubmatch(trimmed)
		l.kind = result
		l.ok = m[1] == "ok"
		l.number, _ = strconv.Atoi(m[2])
		l.name = m[3]
	}
	return l
}

// Parse reads KTAP output and returns its top-level tests: for KUnit, the
// suites. Lines before the first KTAP line and lines between results that
// are not KTAP are kept as diagnostics of the test they precede.
func Parse(text string) []*Test {
	raw := strings.Split(text, "\n")
	lines := make([]line, 0, len(raw))
	for _, s := range raw {
		lines = append(lines, classify(s))
	}
	p := &parser{lines: lines, docIndent: -1}
	root := &Test{Plan: -1}
	p.children(root, -1, false)
	return root.Subtests
}

type parser struct {
	lines []line
	pos   int
	// docIndent is where the document's own header ("KTAP version 1",
	// "1..N", no "# Subtest:") sat, -1 before one was seen.
	docIndent int
}

func (p *parser) peek() (line, bool) {
	if p.pos >= len(p.lines) {
		return line{}, false
	}
	return p.lines[p.pos], true
}

// header consumes the version, "# Subtest:" and plan lines that open a
// test with subtests, in any order, and returns the indentation of the
// first of them.
func (p *parser) header(t *Test) int {
	indent := -1
	seen := map[kind]bool{}
	for {
		l, ok := p.peek()
		if !ok || (l.kind != version && l.kind != subtest && l.kind != plan) || seen[l.kind] {
			return indent
		}
		if indent >= 0 && l.indent != indent {
			return indent
		}
		if indent < 0 {
			indent = l.indent
		}
		seen[l.kind] = true
		switch l.kind {
		case subtest:
			t.Name = l.name
		case plan:
			t.Plan = l.count
		}
		p.pos++
	}
}

// children parses the subtests of t, whose header lines sat at indent
// (-1 for the document itself), up to and including t's own result line
// when nested. It reports whether t's result line was found.
func (p *parser) children(t *Test, indent int, nested bool) bool {
	var diag []line
	for {
		l, ok := p.peek()
		if !ok {
			break
		}
		switch l.kind {
		case other:
			diag = append(diag, l)
			p.pos++
			continue
		case version, subtest, plan:
			if nested && l.indent < indent {
				// A new block at a shallower level: t ended without its
				// result.
				t.Diag = append(t.Diag, strip(diag, indent)...)
				return false
			}
			if nested && l.indent == indent && l.kind != plan {
				t.Diag = append(t.Diag, strip(diag, indent)...)
				return false
			}
			child := &Test{Plan: -1}
			start := p.pos
			ci := p.header(child)
			if !nested && child.Name == "" && (p.docIndent < 0 || ci <= p.docIndent) {
				// The document's header, not a test: several documents
				// may follow each other in a kernel log.
				p.docIndent = ci
				if p.pos == start {
					p.pos++
				}
				continue
			}
			child.Diag = strip(diag, ci)
			diag = nil
			p.nest(t, child, ci)
			continue
		case result:
			if nested && p.ownResult(t, indent, l) {
				t.Diag = append(t.Diag, strip(diag, l.indent)...)
				setResult(t, l)
				p.pos++
				p.fill(t)
				return true
			}
			if nested && indent >= 0 && l.indent > indent {
				// Results deeper than t's own: a subtest whose header
				// was lost (6.1's debugfs keeps only the last parameter
				// of a parameterized case, without its header).
				p.nest(t, &Test{Plan: -1, Diag: strip(diag, l.indent)}, l.indent)
				diag = nil
				continue
			}
			child := &Test{Plan: -1, Diag: strip(diag, l.indent)}
			diag = nil
			setResult(child, l)
			t.Subtests = append(t.Subtests, child)
			p.pos++
		}
	}
	t.Diag = append(t.Diag, strip(diag, indent)...)
	return !nested
}

// nest parses the subtests and result of child, a subtest of t whose
// lines sit at indent, and adds it to t.
func (p *parser) nest(t, child *Test, indent int) {
	child.Number = len(t.Subtests) + 1
	if !p.children(child, indent, true) {
		p.crashed(child)
	}
	if child.Name == "" {
		child.Name = "#" + strconv.Itoa(child.Number)
	}
	t.Subtests = append(t.Subtests, child)
}

// ownResult reports whether result line l closes t rather than being one of
// its subtests: it is less indented than t's header, or, where the log
// lost indentation, t's plan is complete or the line names t.
func (p *parser) ownResult(t *Test, indent int, l line) bool {
	if l.indent < indent {
		return true
	}
	if l.indent > indent {
		return false
	}
	if t.Plan >= 0 {
		return len(t.Subtests) >= t.Plan
	}
	return t.Name != "" && resultName(l.name) == t.Name
}

// crashed marks t, which the log left without a result, as crashed: its
// running subtest crashed and those its plan still promised did not run.
func (p *parser) crashed(t *Test) {
	t.Status = Crash
	running := false
	if n := len(t.Subtests); n > 0 && t.Subtests[n-1].Status == Crash {
		running = true
	}
	for len(t.Subtests) < min(t.Plan, MaxFill) {
		n := len(t.Subtests) + 1
		st := NotRun
		if !running {
			st, running = Crash, true
		}
		t.Subtests = append(t.Subtests, &Test{Name: "#" + strconv.Itoa(n), Number: n, Status: st, Plan: -1})
	}
}

// fill adds the subtests t's plan promised but its log does not hold
// although t has a result: they did not run.
func (p *parser) fill(t *Test) {
	for len(t.Subtests) < min(t.Plan, MaxFill) {
		n := len(t.Subtests) + 1
		t.Subtests = append(t.Subtests, &Test{Name: "#" + strconv.Itoa(n), Number: n, Status: NotRun, Plan: -1})
	}
}

func setResult(t *Test, l line) {
	name := l.name
	t.Number = l.number
	t.Status = Fail
	if l.ok {
		t.Status = Pass
	}
	if m := directive.FindStringSubmatchIndex(name); m != nil {
		t.Directive = strings.TrimSpace(name[m[4]:m[5]])
		if strings.EqualFold(name[m[2]:m[3]], "SKIP") || strings.EqualFold(name[m[2]:m[3]], "TODO") {
			t.Status = Skip
		}
		name = strings.TrimSpace(name[:m[0]])
	}
	if name != "" {
		t.Name = name
	}
	if t.Name == "" {
		t.Name = "#" + strconv.Itoa(l.number)
	}
}

func resultName(s string) string {
	if m := directive.FindStringIndex(s); m != nil {
		s = s[:m[0]]
	}
	return strings.TrimSpace(s)
}

// strip returns the lines' text with up to indent leading blanks removed,
// so a diagnostic's own indentation (an expectation's operands) stays.
func strip(ls []line, indent int) []string {
	var out []string
	for _, l := range ls {
		if l.raw == "" {
			continue
		}
		n := min(l.indent, max(indent, 0))
		out = append(out, l.raw[n:])
	}
	return out
}
