package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// JUnit XML, as CI test tabs read it: one <testsuite> per kernel, with the
// build, the boot and each module load and unload as test cases of their
// own so that they show in the tab, then every guest test, then each
// kernel-log finding outside any test. Every finding is told once, on the
// case it belongs to.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "kmodvm"}
	multi := r.MultiArch()
	for _, k := range r.Kernels {
		// A report of several architectures names each suite with its
		// architecture, and says it, so that CI groups them.
		s, arch := junitSuite{Name: k.Name, Time: k.Timing.Total}, ""
		if multi {
			s.Name, arch = KernelLabel(k), k.Arch
		}
		for _, p := range [][2]string{{"abi", k.ABI}, {"arch", arch}, {"version", k.Version}, {"origin", k.Origin}, {"status", string(k.Status)}} {
			if p[1] != "" {
				s.Properties = append(s.Properties, junitProperty{p[0], p[1]})
			}
		}
		class := "kmodvm." + s.Name
		s.Cases = append(s.Cases, stepCases(k, class)...)
		for _, t := range k.Tests {
			c := junitCase{Name: t.Name, Classname: class + "." + t.Package, Time: t.Elapsed, SystemOut: t.Output}
			switch {
			case t.Status == Skip:
				c.Skipped = &junitMessage{Message: "skipped"}
			case t.Status == NotRun:
				c.Skipped = &junitMessage{Message: "not run", Text: t.Output}
			case t.Status.Failed():
				titles, traces := testFindings(k, t)
				c.Failure = &junitMessage{Message: string(t.Status) + titles, Type: string(t.Status), Text: t.Output + traces}
			case t.Status == Error:
				c.Error = &junitMessage{Message: "error", Text: t.Output}
			}
			s.Cases = append(s.Cases, c)
		}
		s.Cases = findingCases(k, class, s.Cases)
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Time += s.Time
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// stepCases renders a kernel's build, boot and module loads as test cases.
func stepCases(k *Kernel, class string) []junitCase {
	var cases []junitCase
	if k.Status == Skip && k.Build == nil {
		// A series the kernel's architecture lacks, in a run of several.
		return append(cases, junitCase{Name: "kernel", Classname: class, Skipped: &junitMessage{Message: k.Note}})
	}
	if k.Error != "" && k.Build == nil {
		cases = append(cases, junitCase{Name: "setup", Classname: class, Error: &junitMessage{Message: k.Error}})
		return cases
	}
	if b := k.Build; b != nil {
		c := junitCase{Name: "build", Classname: class, Time: k.Timing.Build}
		var diags []string
		for _, d := range append(append([]Diagnostic{}, b.Errors...), b.Warnings...) {
			diags = append(diags, d.String())
		}
		c.SystemOut = strings.Join(diags, "\n")
		if b.Status == Fail {
			c.Failure = &junitMessage{Message: b.Error, Type: "build", Text: c.SystemOut}
		} else if b.Status == Error {
			c.Error = &junitMessage{Message: b.Error}
		}
		cases = append(cases, c)
	}
	if b := k.Boot; b != nil {
		c := junitCase{Name: "boot", Classname: class, Time: k.Timing.Boot}
		switch {
		case b.Status == Error:
			c.Error = &junitMessage{Message: b.Error, Type: b.Exit, Text: b.Hang}
		case b.Status != Pass:
			c.Failure = &junitMessage{Message: firstNonEmpty(b.Error, b.Exit), Type: b.Exit, Text: b.Hang}
		}
		cases = append(cases, c)
	}
	for _, m := range k.Modules {
		if m.Dep {
			continue
		}
		c := junitCase{Name: "load " + m.Name, Classname: class}
		if m.Load != Pass {
			c.Failure = &junitMessage{Message: m.Error, Type: "load"}
		}
		cases = append(cases, c)
		if m.Unload != "" {
			u := junitCase{Name: "unload " + m.Name, Classname: class}
			if m.Unload != Pass {
				u.Failure = &junitMessage{Message: m.UnloadError, Type: "unload"}
			}
			cases = append(cases, u)
		}
	}
	return cases
}

// findingCases adds the kernel's findings outside any test to its cases:
// one during a module's load or unload fails that step's case (a module
// the kernel would not unload is that module's unload), any other is a
// case of its own, failed, or passed for the kernel's own, so that a CI
// tab lists each. An allowed finding, in a test or not, is a passed case
// of its own that says which entry allowed it and why.
func findingCases(k *Kernel, class string, cases []junitCase) []junitCase {
	for _, f := range k.Bugs() {
		if !f.Blames() && !f.KernelOwn() && f.Allowed == nil {
			continue
		}
		text := f.Headline() + " (" + f.Seen() + ")\n" + f.Report + traceText(f)
		if f.Allowed != nil {
			cases = append(cases, junitCase{Name: "allowed: " + f.Headline(), Classname: class,
				SystemOut: f.Allowed.String() + "\n" + text})
			continue
		}
		if f.KernelOwn() {
			cases = append(cases, junitCase{Name: "kernel's own: " + f.Headline(), Classname: class,
				SystemOut: "before any module under test was loaded, not a failure of the module:\n" + text})
			continue
		}
		step := f.Step
		if step == "" && f.Kind == kindUnload && f.Module != "" {
			step = "unload " + f.Module
		}
		i := slices.IndexFunc(cases, func(c junitCase) bool { return step != "" && c.Name == step })
		if i < 0 {
			cases = append(cases, junitCase{Name: "kernel log: " + f.Headline(), Classname: class})
			i = len(cases) - 1
		}
		c := &cases[i]
		if c.Failure == nil {
			c.Failure = &junitMessage{Type: f.Kind}
		}
		c.Failure.Message = strings.TrimPrefix(c.Failure.Message+"; "+f.Headline()+" ("+f.Seen()+")", "; ")
		c.Failure.Text = strings.TrimPrefix(c.Failure.Text+"\n\n"+text, "\n\n")
	}
	return cases
}

// testFindings are a failed test's findings: their titles for the
// failure's message and their reports and traces for its text. A finding
// of several tests is told whole once, on the first of them, with its
// count and the other tests named; the others name it with its count and
// first test.
func testFindings(k *Kernel, t *Test) (titles, traces string) {
	self := t.Package + ": " + t.Name
	var names []string
	var b strings.Builder
	for _, i := range t.Findings {
		if i < 0 || i >= len(k.Findings) {
			continue
		}
		f := k.Findings[i]
		if f.Test != self && len(f.SeenIn()) > 1 {
			names = append(names, f.Title+" ("+f.Seen()+")")
			continue
		}
		detail := f.Tally()
		if also := alsoText(f, self); also != "" {
			detail += "; also during " + also
		}
		if detail != "" {
			detail = " (" + detail + ")"
		}
		names = append(names, f.Title+detail)
		b.WriteString(strings.TrimRight("\n\n"+f.Headline()+"\n"+f.Report, "\n") + traceText(f))
	}
	if len(names) == 0 {
		return "", b.String()
	}
	return ": " + strings.Join(names, "; "), b.String()
}

// maxAlso bounds the other tests a finding's message names.
const maxAlso = 10

// alsoText names the tests other than self that f was printed during.
func alsoText(f Finding, self string) string {
	var others []string
	for _, t := range f.SeenIn() {
		if t != self {
			others = append(others, t)
		}
	}
	if len(others) == 0 {
		return ""
	}
	more := ""
	if len(others) > maxAlso {
		more = fmt.Sprintf(" and %d more", len(others)-maxAlso)
		others = others[:maxAlso]
	}
	return strings.Join(others, ", ") + more
}

// traceText is f's trace with source lines, or "" when it has none.
func traceText(f Finding) string {
	tr := f.Trace()
	if tr == "" {
		return ""
	}
	return "\nsource lines:\n" + tr
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// String renders a diagnostic as compilers do.
func (d Diagnostic) String() string {
	loc := d.File
	if d.Line > 0 {
		loc += fmt.Sprintf(":%d", d.Line)
		if d.Col > 0 {
			loc += fmt.Sprintf(":%d", d.Col)
		}
	}
	return fmt.Sprintf("%s: %s: %s", loc, d.Severity, d.Message)
}
