package report

import (
	"fmt"
	"io"
	"strings"
)

// marks are the matrix cells' symbols.
var marks = map[Status]string{
	Pass: "✅", Fail: "❌", Skip: "⏭️", Timeout: "⏱️", Crash: "💥", Error: "⚠️", NotRun: "·",
}

// Mark returns the symbol for a status.
func Mark(s Status) string {
	if m, ok := marks[s]; ok {
		return m
	}
	return "?"
}

// TestKey names a test across kernels.
type TestKey struct{ Package, Name string }

// TestKeys lists every test of the report, in the order they first ran.
func (r *Report) TestKeys() []TestKey {
	seen := map[TestKey]bool{}
	var keys []TestKey
	for _, k := range r.Kernels {
		for _, t := range k.Tests {
			key := TestKey{t.Package, t.Name}
			if !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
		}
	}
	return keys
}

// Label names a test in a list of the report's tests: by its name alone
// when all of them are of one package, else with its package too
// ("kernel/kunit/mmapdrv_checks: mmapdrv_mmap_fits_test" beside the Go
// tests).
func (r *Report) Label(key TestKey) string { return r.labeler()(key) }

// labeler is Label with the report's packages looked at once, for
// renderings that name every test of a big report.
func (r *Report) labeler() func(TestKey) string {
	pkg, several := "", false
	for _, k := range r.Kernels {
		for _, t := range k.Tests {
			if pkg == "" {
				pkg = t.Package
			}
			several = several || t.Package != pkg
		}
	}
	return func(key TestKey) string {
		if several || key.Package != pkg {
			return key.Package + ": " + key.Name
		}
		return key.Name
	}
}

// byKey indexes k's tests by their key.
func (k *Kernel) byKey() map[TestKey]*Test {
	m := make(map[TestKey]*Test, len(k.Tests))
	for _, t := range k.Tests {
		key := TestKey{t.Package, t.Name}
		if _, ok := m[key]; !ok {
			m[key] = t
		}
	}
	return m
}

// Find returns k's result for a test, or nil.
func (k *Kernel) Find(key TestKey) *Test {
	for _, t := range k.Tests {
		if t.Package == key.Package && t.Name == key.Name {
			return t
		}
	}
	return nil
}

// WriteMarkdown writes, for $GITHUB_STEP_SUMMARY and pull-request
// comments: the verdict, what failed (each failure with its findings and
// their source lines), the matrix (tests down, kernels across) of the
// steps and the tests that did not simply pass everywhere, then the tests
// that did, folded. It stays well under GitHub's 1 MiB for a summary at
// thousands of results.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := "kmodvm"
	if r.Partial {
		title += " (partial: the run was interrupted)"
	}
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", title, r.verdictLine())
	r.writeArchMarkdown(&b)
	r.writeWhatFailed(&b)
	keys := r.TestKeys()
	byKernel := make([]map[TestKey]*Test, len(r.Kernels))
	for i, k := range r.Kernels {
		byKernel[i] = k.byKey()
	}
	r.writeMatrix(&b, keys, byKernel)
	r.writePassed(&b, keys, byKernel)
	r.writeFaultSites(&b)
	r.writeCoverageMarkdown(&b)
	if notes := r.kernelNotes(); len(notes) > 0 {
		b.WriteString("\n### Notes\n\n" + strings.Join(notes, "\n") + "\n")
	}
	b.WriteString("\n✅ pass ❌ fail ⏭️ skip ⏱️ timeout 💥 crash ⚠️ infrastructure error · not run 🐞 kernel-log finding ↻ after a reboot\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// verdictLine says how the run went in one line.
func (r *Report) verdictLine() string {
	var c Counts
	passed, lacking := 0, 0
	for _, k := range r.Kernels {
		kc := k.Counts()
		c.Pass, c.Fail, c.Skip = c.Pass+kc.Pass, c.Fail+kc.Fail, c.Skip+kc.Skip
		switch k.Status {
		case Pass:
			passed++
		case Skip:
			lacking++
		}
	}
	st := verdictCell(r).Status
	kernels := fmt.Sprintf("%d of %d kernels passed", passed, len(r.Kernels)-lacking)
	if lacking > 0 {
		kernels += fmt.Sprintf(" (%d more lacking: skipped)", lacking)
	}
	return fmt.Sprintf("%s **%s**: %s; tests: %d passed, %d failed, %d skipped",
		Mark(st), st, kernels, c.Pass, c.Fail, c.Skip)
}

// writeMatrix writes the table: a row for each step, each test that did
// not simply pass on every kernel it ran on, and the findings; a column
// for each kernel.
func (r *Report) writeMatrix(b *strings.Builder, keys []TestKey, byKernel []map[TestKey]*Test) {
	b.WriteString("| |")
	for _, k := range r.Kernels {
		fmt.Fprintf(b, " %s |", mdEscape(k.Name))
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat(":---:|", len(r.Kernels)))
	b.WriteString("\n")
	row := func(name string, cell func(i int, k *Kernel) string) {
		fmt.Fprintf(b, "| %s |", name)
		for i, k := range r.Kernels {
			fmt.Fprintf(b, " %s |", cell(i, k))
		}
		b.WriteString("\n")
	}
	if r.MultiArch() {
		row("**arch**", func(_ int, k *Kernel) string { return mdEscape(k.Arch) })
	}
	for _, s := range mdStepRows {
		row(s.name, func(_ int, k *Kernel) string { return s.cell(k) })
	}
	label := r.labeler()
	for _, key := range keys {
		if r.allPlain(key, byKernel) {
			continue
		}
		row(mdEscape(label(key)), func(i int, _ *Kernel) string { return mdTestCell(byKernel[i][key]) })
	}
	row("findings", func(_ int, k *Kernel) string { return k.BugsText() })
}

// allPlain reports whether a test passed plainly wherever it ran.
func (r *Report) allPlain(key TestKey, byKernel []map[TestKey]*Test) bool {
	for i := range r.Kernels {
		if t := byKernel[i][key]; t != nil && !plainPass(t) {
			return false
		}
	}
	return true
}

// mdStepRows are the matrix's rows above the tests.
var mdStepRows = []struct {
	name string
	cell func(k *Kernel) string
}{
	{"**kernel**", func(k *Kernel) string {
		c := k.Counts()
		return fmt.Sprintf("%s %d/%d", Mark(k.Status), c.Pass, c.Pass+c.Fail+c.Other)
	}},
	{"build", func(k *Kernel) string {
		if k.Build == nil {
			return Mark(NotRun)
		}
		s := Mark(k.Build.Status)
		if n := len(k.Build.Warnings); n > 0 {
			s += fmt.Sprintf(" %d⚠", n)
		}
		return s
	}},
	{"boot", func(k *Kernel) string {
		if k.Boot == nil {
			return Mark(NotRun)
		}
		return Mark(k.Boot.Status)
	}},
	{"load", func(k *Kernel) string {
		if len(k.Modules) == 0 {
			return Mark(NotRun)
		}
		st := Pass
		for _, m := range k.Modules {
			if m.Load != Pass {
				st = Fail
			}
		}
		return Mark(st)
	}},
}

// mdTestCell is a test's cell: its mark, 🐞 if the kernel log blamed it,
// ↻ if it ran after a reboot.
func mdTestCell(t *Test) string {
	if t == nil {
		return Mark(NotRun)
	}
	m := Mark(t.Status)
	if len(t.Findings) > 0 {
		m += " 🐞"
	}
	if t.AfterReboot {
		m += " ↻"
	}
	return m
}

// kernelNotes are what the user should know about each kernel: its note,
// its reboots, the bugs the kernel reported before any module under test
// was loaded and those the allow-list accepted.
func (r *Report) kernelNotes() []string {
	var notes []string
	for _, k := range r.Kernels {
		if k.Note != "" {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", mdEscape(k.Name), mdEscape(k.Note)))
		}
		if n := len(k.Reboots); n > 0 {
			notes = append(notes, fmt.Sprintf("- **%s**: %s; the tests marked ↻ ran after a reboot", mdEscape(k.Name), k.RebootText()))
		}
		for _, f := range k.Bugs() {
			switch {
			case f.Allowed != nil:
				notes = append(notes, fmt.Sprintf("- **%s**: %s, not a failure: %s", mdEscape(k.Name), mdEscape(f.Allowed.String()), mdBug(f, f.Seen())))
			case f.KernelOwn():
				notes = append(notes, fmt.Sprintf("- **%s**: the kernel's own, not a failure: %s", mdEscape(k.Name), mdBug(f, f.Seen())))
			}
		}
		for _, g := range k.NotRunTests() {
			var names []string
			for _, t := range g.Tests {
				names = append(names, t.Name)
			}
			notes = append(notes, fmt.Sprintf("- **%s**: %d test(s) %s: %s", mdEscape(k.Name), len(g.Tests), mdEscape(g.Why), mdEscape(strings.Join(names, ", "))))
		}
	}
	return notes
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
