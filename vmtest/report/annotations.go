package report

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// annotation is one GitHub Actions workflow command (::error, ::warning)
// and the kernels it stands for.
type annotation struct {
	level     string
	file      string
	line, col int
	title     string // before the kernels are named
	message   string
	kernels   []string
}

// Annotations name at most this much of a test's output or a finding's
// report: GitHub shows annotations inline, the HTML report has the rest.
const (
	annotationLines = 20
	annotationBytes = 4000
)

// WriteAnnotations writes GitHub Actions workflow commands that annotate a
// pull request: an ::error or ::warning for each compiler diagnostic in the
// module's source, placed on its file and line, then an ::error for each
// broken kernel, build, boot and module load, each failed test with the
// kernel-log findings blamed on it, and each finding outside any test
// (a ::warning for the kernel's own). An annotation appears once, naming every kernel it
// happened on, because GitHub shows only the first ten of each level per
// step. root is the repository's checkout (GITHUB_WORKSPACE); files are
// named relative to it, and a diagnostic outside it (in a kernel header)
// is reported without a file.
func (r *Report) WriteAnnotations(w io.Writer, root string) error {
	var b strings.Builder
	for _, a := range r.annotations(root) {
		b.WriteString(a.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) annotations(root string) []*annotation {
	var diags, fails []*annotation
	seen := map[string]*annotation{}
	add := func(list *[]*annotation, key, kernel string, a *annotation) {
		if prev, ok := seen[key]; ok {
			if prev.kernels[len(prev.kernels)-1] != kernel {
				prev.kernels = append(prev.kernels, kernel)
			}
			return
		}
		a.kernels = []string{kernel}
		seen[key] = a
		*list = append(*list, a)
	}
	for _, k := range r.Kernels {
		if k.Build != nil {
			for _, d := range append(append([]Diagnostic{}, k.Build.Errors...), k.Build.Warnings...) {
				a := diagnosticAnnotation(d, root)
				add(&diags, fmt.Sprintf("diag\x00%s\x00%s\x00%d\x00%d\x00%s", a.level, d.File, d.Line, d.Col, a.message), k.Name, a)
			}
		}
		for _, a := range kernelFailures(k) {
			add(&fails, "fail\x00"+a.title+"\x00"+a.message, k.Name, a)
		}
		told := map[int]bool{}
		for _, t := range failedLeaves(k) {
			a, key := testAnnotation(k, t, root)
			add(&fails, key, k.Name, a)
			for _, i := range t.Findings {
				told[i] = true
			}
		}
		for i, f := range k.Findings {
			if f.Kind == KindTaint || told[i] {
				continue
			}
			add(&fails, "finding\x00"+f.Kind+"\x00"+f.Title+"\x00"+f.Where(), k.Name, findingAnnotation(f, root))
		}
	}
	sort.SliceStable(diags, func(i, j int) bool { return diags[i].level == "error" && diags[j].level != "error" })
	return append(diags, fails...)
}

// testAnnotation is a failed test's annotation, and its key: what the
// test said, then each finding blamed on it, told whole on the first test
// it was seen in and named on the others, the annotation placed on the
// module's line the first one happened at.
func testAnnotation(k *Kernel, t *Test, root string) (*annotation, string) {
	a := &annotation{level: "error", title: fmt.Sprintf("%s %s", t.Name, t.Status)}
	var msg []string
	if says := testSays(t); says != "" {
		msg = append(msg, says)
	}
	key := "test\x00" + t.Package + "\x00" + t.Name + "\x00" + string(t.Status)
	self := t.Package + ": " + t.Name
	for n, i := range validFindings(k, t.Findings) {
		f := k.Findings[i]
		key += "\x00" + f.Headline()
		if n == 0 {
			a.title += ": " + f.Headline()
		}
		told := f.Headline() + " (" + f.Seen() + ")"
		if f.Test != self && len(f.SeenIn()) > 1 {
			msg = append(msg, told)
			continue
		}
		if fr, ok := f.Source(); ok {
			told += " at " + fr.Where()
			if rel, ok := relativePath(root, fr.File); ok && a.file == "" {
				a.file, a.line = rel, fr.Line
			}
		}
		msg = append(msg, strings.TrimSpace(told+"\n"+reportSummary(f.Report)))
	}
	if len(msg) == 0 {
		msg = append(msg, fmt.Sprintf("%s: %s %s", t.Package, t.Name, t.Status))
	}
	a.message = clip(strings.Join(msg, "\n"))
	return a, key
}

// findingAnnotation is a finding's annotation: placed on the module's
// line it happened at when that file is in the checkout, a warning for
// the kernel's own, a notice saying which entry allowed it for an allowed
// one.
func findingAnnotation(f Finding, root string) *annotation {
	a := &annotation{level: "error", title: f.Headline(), message: f.Kind + " " + f.Seen() + "\n" + clip(reportSummary(f.Report))}
	switch {
	case f.Allowed != nil:
		a.level, a.message = "notice", f.Allowed.String()+"\n"+a.message
	case f.KernelOwn():
		a.level = "warning"
	}
	if fr, ok := f.Source(); ok {
		// On the module's line that faulted, where the diff shows it.
		if rel, ok := relativePath(root, fr.File); ok {
			a.file, a.line = rel, fr.Line
		}
		a.message = fr.Where() + ": " + a.message
	}
	return a
}

func diagnosticAnnotation(d Diagnostic, root string) *annotation {
	a := &annotation{level: "warning", message: asciiQuotes.Replace(d.Message), line: d.Line, col: d.Col}
	if d.Severity == "error" {
		a.level = "error"
	}
	if rel, ok := relativePath(root, d.File); ok {
		a.file = rel
		return a
	}
	loc := d.File
	if d.Line > 0 {
		loc += fmt.Sprintf(":%d", d.Line)
		if d.Col > 0 {
			loc += fmt.Sprintf(":%d", d.Col)
		}
	}
	a.line, a.col, a.message = 0, 0, loc+": "+d.Message
	return a
}

// asciiQuotes undoes gcc's locale-dependent quotes, so that one warning
// from two compilers (one in a UTF-8 locale) is one annotation.
var asciiQuotes = strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`)

// relativePath names file relative to root, or says it is not under root
// (or not a file at all, like modpost's messages).
func relativePath(root, file string) (string, bool) {
	if file == "" || file == "modpost" {
		return "", false
	}
	if root == "" {
		return filepath.ToSlash(file), true
	}
	absRoot, err1 := filepath.Abs(root)
	absFile, err2 := filepath.Abs(file)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(absRoot, absFile)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// kernelFailures are the steps of k that failed before or around its
// tests. A kernel without a verdict says why in k.Error, which often
// quotes the failed step: the step is then not repeated.
func kernelFailures(k *Kernel) []*annotation {
	var out []*annotation
	if k.Status == Error && k.Error != "" {
		out = append(out, &annotation{level: "error", title: "kmodvm error", message: clip(k.Error)})
	}
	step := func(title, msg string) {
		if msg = strings.TrimSpace(msg); msg == "" {
			msg = title
		}
		if k.Status != Error || !strings.Contains(k.Error, msg) {
			out = append(out, &annotation{level: "error", title: title, message: clip(msg)})
		}
	}
	if b := k.Build; b != nil && b.Status != Pass && len(b.Errors) == 0 && b.Error != "" {
		step("build "+string(b.Status), b.Error)
	}
	if b := k.Boot; b != nil && b.Status != Pass {
		msg := strings.TrimSpace(b.Error + "\n" + b.Hang)
		if msg == "" {
			msg = "QEMU ended by " + b.Exit
		}
		step("boot "+string(b.Status), msg)
	}
	for _, m := range k.Modules {
		if m.Load != Pass {
			step("load "+m.Name+" "+string(m.Load), m.Error)
		}
	}
	return out
}

// failedLeaves are k's failed tests without a failed subtest: a subtest's
// failure also fails its parents, and one failure says it. A parent that
// a finding was blamed on is kept: the finding is its own.
func failedLeaves(k *Kernel) []*Test {
	parents := map[TestKey]bool{}
	for _, t := range k.Tests {
		if !t.Status.Failed() {
			continue
		}
		for name := t.Name; strings.Contains(name, "/"); {
			name = name[:strings.LastIndex(name, "/")]
			parents[TestKey{t.Package, name}] = true
		}
	}
	var out []*Test
	for _, t := range k.Tests {
		if t.Status.Failed() && (!parents[TestKey{t.Package, t.Name}] || len(validFindings(k, t.Findings)) > 0) {
			out = append(out, t)
		}
	}
	return out
}

// failureSummary is what a failed test said, without go test's framing.
func failureSummary(t *Test) string {
	if says := testSays(t); says != "" {
		return says
	}
	return fmt.Sprintf("%s: %s %s", t.Package, t.Name, t.Status)
}

// testSays is what a test printed, without go test's framing; "" when it
// printed nothing more.
func testSays(t *Test) string {
	var keep []string
	for _, l := range strings.Split(t.Output, "\n") {
		s := strings.TrimSpace(l)
		if s == "" || strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "--- PASS") || strings.HasPrefix(s, "--- FAIL") {
			continue
		}
		keep = append(keep, s)
	}
	return clip(strings.Join(keep, "\n"))
}

// reportSummary keeps what a reader of an annotation needs from a kernel
// report: its first line and the call trace, without timestamps, register
// dumps or the unreliable ("? ") frames.
func reportSummary(report string) string {
	lines := strings.Split(report, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(timestampRE.ReplaceAllString(l, ""), " ")
	}
	keep := []string{lines[0]}
	trace := false
	for _, l := range lines[1:] {
		t := strings.TrimSpace(l)
		switch {
		case t == "Call Trace:":
			trace = true
		case !trace || t == "" || t == "<TASK>" || strings.HasPrefix(t, "? "):
			continue
		case t == "</TASK>" || strings.HasPrefix(t, "RIP:") || strings.HasPrefix(t, "---[ end trace"):
			return strings.Join(keep, "\n")
		}
		keep = append(keep, l)
	}
	if !trace {
		return strings.Join(lines, "\n")
	}
	return strings.Join(keep, "\n")
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if lines := strings.SplitN(s, "\n", annotationLines+1); len(lines) > annotationLines {
		s = strings.Join(lines[:annotationLines], "\n") + "\n..."
	}
	if len(s) > annotationBytes {
		s = strings.ToValidUTF8(s[:annotationBytes], "") + "..."
	}
	return s
}

// String renders the workflow command, escaped as GitHub's toolkit does
// (@actions/core command.ts): data escapes %, CR and LF; properties also
// escape : and ,.
func (a *annotation) String() string {
	var props []string
	if a.file != "" {
		props = append(props, "file="+escapeProperty(a.file))
		if a.line > 0 {
			props = append(props, fmt.Sprintf("line=%d", a.line))
			if a.col > 0 {
				props = append(props, fmt.Sprintf("col=%d", a.col))
			}
		}
	}
	title := strings.Join(a.kernels, ", ")
	if a.title != "" {
		title = a.title + " on " + title
	}
	props = append(props, "title="+escapeProperty(title))
	return "::" + a.level + " " + strings.Join(props, ",") + "::" + escapeData(a.message) + "\n"
}

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }
