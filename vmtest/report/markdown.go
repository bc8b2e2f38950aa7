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
func (r *Report) Label(key TestKey) string {
	for _, k := range r.Kernels {
		for _, t := range k.Tests {
			if t.Package != key.Package {
				return key.Package + ": " + key.Name
			}
		}
	}
	return key.Name
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

// WriteMarkdown writes the matrix (tests down, kernels across) with a
// summary row per kernel and the findings below it, for
// $GITHUB_STEP_SUMMARY and pull-request comments.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := "kmodvm"
	if r.Partial {
		title += " (partial: the run was interrupted)"
	}
	fmt.Fprintf(&b, "## %s\n\n", title)
	r.writeMatrix(&b)
	if notes := r.findingNotes(); len(notes) > 0 {
		b.WriteString("\n### Findings and errors\n\n" + strings.Join(notes, "\n") + "\n")
	}
	r.writeCoverageMarkdown(&b)
	if notes := r.kernelNotes(); len(notes) > 0 {
		b.WriteString("\n### Notes\n\n" + strings.Join(notes, "\n") + "\n")
	}
	b.WriteString("\n✅ pass ❌ fail ⏭️ skip ⏱️ timeout 💥 crash ⚠️ infrastructure error · not run 🐞 kernel-log finding\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMatrix writes the table: a row for each step, each test and the
// findings, a column for each kernel.
func (r *Report) writeMatrix(b *strings.Builder) {
	b.WriteString("| |")
	for _, k := range r.Kernels {
		fmt.Fprintf(b, " %s |", mdEscape(k.Name))
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat(":---:|", len(r.Kernels)))
	b.WriteString("\n")
	row := func(name string, cell func(k *Kernel) string) {
		fmt.Fprintf(b, "| %s |", name)
		for _, k := range r.Kernels {
			fmt.Fprintf(b, " %s |", cell(k))
		}
		b.WriteString("\n")
	}
	for _, s := range mdStepRows {
		row(s.name, s.cell)
	}
	for _, key := range r.TestKeys() {
		row(mdEscape(r.Label(key)), func(k *Kernel) string { return mdTestCell(k.Find(key)) })
	}
	row("findings", func(k *Kernel) string { return fmt.Sprint(len(k.Bugs())) })
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

// findingNotes list each kernel's error and its findings.
func (r *Report) findingNotes() []string {
	var notes []string
	for _, k := range r.Kernels {
		if k.Error != "" {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", mdEscape(k.Name), mdEscape(firstLine(k.Error))))
		}
		for _, f := range k.Bugs() {
			note := fmt.Sprintf("- **%s**: `%s` (%s)", mdEscape(k.Name), mdEscape(f.Headline()), mdEscape(f.Seen()))
			if fr, ok := f.Source(); ok {
				note += fmt.Sprintf(" at `%s`", mdEscape(fr.Where()))
			}
			notes = append(notes, note)
		}
	}
	return notes
}

// kernelNotes are what the user should know about each kernel: its note
// and its reboots.
func (r *Report) kernelNotes() []string {
	var notes []string
	for _, k := range r.Kernels {
		if k.Note != "" {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", mdEscape(k.Name), mdEscape(k.Note)))
		}
		if n := len(k.Reboots); n > 0 {
			notes = append(notes, fmt.Sprintf("- **%s**: %s; the tests marked ↻ ran after a reboot", mdEscape(k.Name), k.RebootText()))
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
