package report

import (
	"sort"
	"strings"
)

// FailureKind is what failed.
type FailureKind string

// Failure kinds, in the order a report lists them: what kept a kernel
// from a verdict or from running the tests comes before the tests.
const (
	FailedKernel  FailureKind = "kernel"  // no verdict: fetch, image, VM or kmodvm broke
	FailedBuild   FailureKind = "build"   // the module did not build
	FailedBoot    FailureKind = "boot"    // the VM crashed or hung outside any test
	FailedLoad    FailureKind = "load"    // a module did not load, or not unload
	FailedTest    FailureKind = "test"    // a test failed, crashed or timed out
	FailedFinding FailureKind = "finding" // a kernel-log finding outside any test, or of no failed test
)

var failureRank = map[FailureKind]int{FailedKernel: 0, FailedBuild: 1, FailedBoot: 2, FailedLoad: 3, FailedTest: 4, FailedFinding: 5}

// kindUnload is the kind of the finding vmtest/collect makes of a module
// the kernel would not unload; it tells the module's failed unload, which
// is not told again.
const kindUnload = "unload"

// Failure is one thing that failed a report, with every kernel it failed
// on: a kernel without a verdict, a module's build, its VM, a module load
// or unload, a test (the innermost that failed: a subtest's failure fails
// its parents too), or a kernel-log finding that fails its kernel by
// itself (during a module load or unload, or outside any test). The
// renderings lead with them, so that a reader sees why before the matrix.
type Failure struct {
	Kind FailureKind
	// Name is the test's label, the step ("build", "boot", "load
	// mmapdrv"), the finding's headline, or "kmodvm error".
	Name   string
	Status Status
	// Why is the first line saying why on the first kernel: the test's
	// own message, the step's error, where the finding happened; "" when
	// its findings say it all.
	Why string
	On  []FailedOn
}

// FailedOn is a failure on one kernel.
type FailedOn struct {
	Kernel *Kernel
	// Test is the failed test, nil for a step or a finding.
	Test *Test
	// Findings index Kernel.Findings: the bugs blamed on the test, or the
	// finding that failed the kernel by itself.
	Findings []int
}

// Title names f with how it failed, as a list of failures does:
// "TestMmap fail", "boot crash", "load mmapdrv fail", "kmodvm error", a
// finding's headline.
func (f *Failure) Title() string {
	if f.Kind == FailedFinding || (f.Kind == FailedKernel && f.Status == Error) {
		return f.Name
	}
	return f.Name + " " + string(f.Status)
}

// Bugs are the findings of f on its first kernel.
func (f *Failure) Bugs() []Finding {
	if len(f.On) == 0 {
		return nil
	}
	on := f.On[0]
	var out []Finding
	for _, i := range on.Findings {
		if i >= 0 && i < len(on.Kernel.Findings) {
			out = append(out, on.Kernel.Findings[i])
		}
	}
	return out
}

// Kernels names the kernels f happened on, each as KernelLabel does.
func (f *Failure) Kernels() []string {
	var out []string
	for _, on := range f.On {
		out = append(out, KernelLabel(on.Kernel))
	}
	return out
}

// KernelLabel names k with its architecture when its name does not say it
// ("6.1.192-debug (arm64)"), as a list of kernels of several
// architectures needs.
func KernelLabel(k *Kernel) string {
	if k.Arch == "" || strings.Contains(k.Name, k.Arch) {
		return k.Name
	}
	return k.Name + " (" + k.Arch + ")"
}

// Failures lists what failed, each once with the kernels it failed on,
// failures before tests, then in the order they first happened.
func (r *Report) Failures() []*Failure {
	var out []*Failure
	byKey := map[string]*Failure{}
	labeler := r.labeler()
	label := func(t *Test) string { return labeler(TestKey{t.Package, t.Name}) }
	for _, k := range r.Kernels {
		for _, f := range kernelFailureList(k, label) {
			key := f.key(k)
			if prev, ok := byKey[key]; ok {
				prev.On = append(prev.On, f.On...)
				continue
			}
			byKey[key] = f
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return failureRank[out[i].Kind] < failureRank[out[j].Kind] })
	return out
}

// key is what a failure on one kernel has in common with the same failure
// on another: what failed, how, and the bugs blamed on it.
func (f *Failure) key(k *Kernel) string {
	parts := []string{string(f.Kind), f.Name, string(f.Status)}
	for _, b := range f.Bugs() {
		parts = append(parts, b.Headline(), b.Where())
	}
	return strings.Join(parts, "\x00")
}

// kernelFailureList is what failed on k, one Failure per thing; label
// names a test.
func kernelFailureList(k *Kernel, label func(*Test) string) []*Failure {
	var out []*Failure
	add := func(kind FailureKind, name string, st Status, why string, test *Test, findings []int) {
		out = append(out, &Failure{Kind: kind, Name: name, Status: st, Why: why,
			On: []FailedOn{{Kernel: k, Test: test, Findings: findings}}})
	}
	if k.Status == Error && k.Error != "" {
		add(FailedKernel, "kmodvm error", Error, firstLine(k.Error), nil, nil)
	}
	stepFailures(k, add)
	told := map[int]bool{}
	for _, t := range failedLeaves(k) {
		ids := validFindings(k, t.Findings)
		add(FailedTest, label(t), t.Status, testWhy(k, t), t, ids)
		for _, i := range ids {
			told[i] = true
		}
	}
	for i, f := range k.Findings {
		// A bug blamed on no failed test (its test is not in the report)
		// is told on its own too.
		if f.Blames() || (!told[i] && f.Kind != KindTaint && !f.KernelOwn() && f.Allowed == nil) {
			add(FailedFinding, f.Headline(), Fail, findingWhy(f), nil, []int{i})
		}
	}
	// A skipped kernel (a series its architecture lacks) did not fail.
	if len(out) == 0 && k.Status != Pass && k.Status != Skip {
		add(FailedKernel, "kernel", k.Status, firstLine(k.Error), nil, nil)
	}
	return out
}

// stepFailures adds k's failed build, boot and module loads and unloads.
// A step that k.Error (a kernel without a verdict) already quotes is not
// told again, nor a boot that ended with a test (the test tells it), nor
// an unload that a finding tells.
func stepFailures(k *Kernel, add func(FailureKind, string, Status, string, *Test, []int)) {
	told := func(why string) bool { return k.Status == Error && why != "" && strings.Contains(k.Error, why) }
	if b := k.Build; b != nil && b.Status != Pass {
		why := b.Error
		if len(b.Errors) > 0 {
			why = b.Errors[0].String()
		}
		if !told(b.Error) {
			add(FailedBuild, "build", b.Status, firstLine(why), nil, nil)
		}
	}
	if b := k.Boot; b != nil && b.Status != Pass && !told(b.Error) && !testEndedVM(k) {
		add(FailedBoot, "boot", b.Status, firstLine(firstNonEmpty(b.Error, "QEMU ended by "+b.Exit)), nil, nil)
	}
	for _, m := range k.Modules {
		switch {
		case m.Load != Pass && !told(m.Error):
			add(FailedLoad, "load "+m.Name, m.Load, firstLine(m.Error), nil, nil)
		case m.Unload != "" && m.Unload != Pass && !unloadFinding(k, m.Name):
			add(FailedLoad, "unload "+m.Name, m.Unload, firstLine(m.UnloadError), nil, nil)
		}
	}
}

// testEndedVM reports whether a test of k crashed or timed out: the VM's
// end is that test's failure.
func testEndedVM(k *Kernel) bool {
	for _, t := range k.Tests {
		if t.Status == Crash || t.Status == Timeout {
			return true
		}
	}
	return false
}

func unloadFinding(k *Kernel, module string) bool {
	for _, f := range k.Findings {
		if f.Kind == kindUnload && f.Module == module && f.Blames() {
			return true
		}
	}
	return false
}

// validFindings are the findings of ids that fail what they happened
// during: neither taint notes nor allowed ones.
func validFindings(k *Kernel, ids []int) []int {
	var out []int
	for _, i := range ids {
		if i >= 0 && i < len(k.Findings) && k.Findings[i].Kind != KindTaint && k.Findings[i].Allowed == nil {
			out = append(out, i)
		}
	}
	return out
}

// testWhy is the first line a failed test printed about itself, go test's
// framing aside; else kmodvm's note on it ("the test binary timed out
// after 30s; blocked tasks:"), unless the note only names a finding the
// test is blamed for; "" when there is neither.
func testWhy(k *Kernel, t *Test) string {
	own, note, _ := strings.Cut(t.Output, "--- kmodvm: ")
	for _, l := range strings.Split(own, "\n") {
		if s := strings.TrimSpace(l); s != "" && !framingLine(s) {
			return clipLine(s)
		}
	}
	note = firstLine(note)
	for _, i := range validFindings(k, t.Findings) {
		if strings.Contains(note, k.Findings[i].Title) {
			return ""
		}
	}
	return clipLine(dropLeadIn(note))
}

// dropLeadIn drops the clause of a note that introduces what follows it
// ("...; blocked tasks:"): a one-line reason does not show what follows.
func dropLeadIn(s string) string {
	if !strings.HasSuffix(s, ":") {
		return s
	}
	if i := strings.LastIndexAny(s, ";."); i > 0 {
		return s[:i]
	}
	return s
}

// framingLine reports whether s (trimmed) is go test's framing of a
// test's output rather than what the test said.
func framingLine(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return s == "PASS" || s == "FAIL"
}

// findingWhy says where a finding outside any test happened, and the
// first line of its report when it is not a kernel report, which its
// title names, but kmodvm's own ("resource temporarily unavailable
// (...)" of a failed unload).
func findingWhy(f Finding) string {
	where := f.Seen()
	first := firstLine(timestampRE.ReplaceAllString(f.Report, ""))
	if first == "" || f.PC != nil || len(f.Frames) > 0 || strings.Contains(f.Report, "Call Trace:") || strings.Contains(first, f.Title) {
		return where // a kernel report: its title names it
	}
	return where + ": " + clipLine(first)
}

// maxWhy bounds a one-line reason.
const maxWhy = 200

func clipLine(s string) string {
	if len(s) <= maxWhy {
		return s
	}
	return strings.ToValidUTF8(s[:maxWhy], "") + "…"
}
