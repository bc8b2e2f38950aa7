package report

import (
	"fmt"
	"html"
	"sort"
	"strings"
)

// The Markdown report's What failed, above its matrix, and its passing
// tests, folded below it: a GitHub step summary holds at most 1 MiB, and
// a matrix of thousands of passing rows hid the few that failed.
const (
	// mdMaxFailures is how many failures the Markdown lists.
	mdMaxFailures = 30
	// mdMaxKernels is how many kernels a failure names.
	mdMaxKernels = 8
)

// writeWhatFailed lists r's failures, each bug told whole once.
func (r *Report) writeWhatFailed(b *strings.Builder) {
	fs := r.Failures()
	if len(fs) == 0 {
		return
	}
	b.WriteString("### What failed\n\n")
	told := map[string]bool{}
	for i, f := range fs {
		if i == mdMaxFailures {
			fmt.Fprintf(b, "- … and %d more (the HTML report lists them all)\n", len(fs)-i)
			break
		}
		writeFailure(b, f, told)
	}
	b.WriteString("\n")
}

func writeFailure(b *strings.Builder, f *Failure, told map[string]bool) {
	bugs := f.Bugs()
	if f.Kind == FailedFinding && len(bugs) == 1 {
		fmt.Fprintf(b, "- %s %s on %s\n", Mark(f.Status), mdBug(bugs[0], f.Why), mdKernels(f))
		told[bugKey(bugs[0])] = true
		return
	}
	fmt.Fprintf(b, "- %s **%s** on %s", Mark(f.Status), mdEscape(f.Title()), mdKernels(f))
	if f.Why != "" {
		b.WriteString(": " + mdEscape(f.Why))
	}
	b.WriteString("\n")
	for _, bug := range bugs {
		if told[bugKey(bug)] {
			fmt.Fprintf(b, "  - 🐞 `%s` (above)\n", mdEscape(bug.Headline()))
			continue
		}
		told[bugKey(bug)] = true
		fmt.Fprintf(b, "  - 🐞 %s\n", mdBug(bug, bug.Seen()))
	}
}

func bugKey(f Finding) string { return f.Headline() + "\x00" + f.Where() }

// mdBug names a finding, how often and where it happened (why), and the
// module's source line it happened at.
func mdBug(f Finding, why string) string {
	s := fmt.Sprintf("`%s` (%s)", mdEscape(f.Headline()), mdEscape(why))
	if fr, ok := f.Source(); ok {
		s += fmt.Sprintf(" at `%s`", mdEscape(fr.Where()))
	}
	return s
}

// mdKernels names the kernels a failure happened on, each run after a
// reboot marked ↻.
func mdKernels(f *Failure) string {
	var names []string
	for i, on := range f.On {
		if i == mdMaxKernels {
			names = append(names, fmt.Sprintf("%d more", len(f.On)-i))
			break
		}
		s := mdEscape(KernelLabel(on.Kernel))
		if on.Test != nil && on.Test.AfterReboot {
			s += " ↻"
		}
		names = append(names, s)
	}
	return strings.Join(names, ", ")
}

// plainPass reports whether t passed with nothing to tell: no finding,
// not after a reboot. Such a test's row is folded.
func plainPass(t *Test) bool { return t.Status == Pass && len(t.Findings) == 0 && !t.AfterReboot }

// writePassed folds the tests that passed plainly: those that did on
// every kernel that ran tests once, then each kernel's others.
func (r *Report) writePassed(b *strings.Builder, keys []TestKey, byKernel []map[TestKey]*Test) {
	ran := 0
	everywhere := map[TestKey]bool{}
	for _, key := range keys {
		everywhere[key] = true
	}
	for i, k := range r.Kernels {
		if len(k.Tests) == 0 {
			continue
		}
		ran++
		for _, key := range keys {
			if t := byKernel[i][key]; t == nil || !plainPass(t) {
				everywhere[key] = false
			}
		}
	}
	var common []TestKey
	if ran > 1 {
		for _, key := range keys {
			if everywhere[key] {
				common = append(common, key)
			}
		}
		writePassList(b, fmt.Sprintf("✅ %s passed on all %d kernels that ran tests", tests(len(common)), ran), common)
	}
	for i, k := range r.Kernels {
		var own []TestKey
		for _, key := range keys {
			if t := byKernel[i][key]; t != nil && plainPass(t) && (ran < 2 || !everywhere[key]) {
				own = append(own, key)
			}
		}
		summary := fmt.Sprintf("✅ %s: %s passed", k.Name, tests(len(own)))
		if ran > 1 {
			summary = fmt.Sprintf("✅ %s: %s more passed", k.Name, tests(len(own)))
		}
		writePassList(b, summary, own)
	}
}

func tests(n int) string {
	if n == 1 {
		return "1 test"
	}
	return fmt.Sprintf("%d tests", n)
}

// writePassList writes a fold of test names, by package.
func writePassList(b *strings.Builder, summary string, keys []TestKey) {
	if len(keys) == 0 {
		return
	}
	byPkg := map[string][]string{}
	var pkgs []string
	for _, key := range keys {
		if byPkg[key.Package] == nil {
			pkgs = append(pkgs, key.Package)
		}
		byPkg[key.Package] = append(byPkg[key.Package], "`"+mdEscape(key.Name)+"`")
	}
	sort.Strings(pkgs)
	fmt.Fprintf(b, "\n<details><summary>%s</summary>\n\n", html.EscapeString(summary))
	for _, p := range pkgs {
		fmt.Fprintf(b, "**%s** (%d): %s\n\n", mdEscape(p), len(byPkg[p]), strings.Join(byPkg[p], ", "))
	}
	b.WriteString("</details>\n")
}
