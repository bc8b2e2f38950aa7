package vmtest

import (
	"context"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/run"
)

// Run runs cfg's matrix and reports it as subtests of t: one per kernel,
// named by its ABI, with the build, boot and module loads as subtests and
// every guest test (and subtest) below them, so that
//
//	go test -run 'TestMatrix/6.1/TestMmap'
//
// selects results the usual way. The second element of the -run pattern
// also narrows the kernels that run (matched against the selector and the
// kernel name), and the rest is passed to the guest binaries as -test.run,
// so that a narrow pattern runs only what it names. Run respects the test's
// deadline (go test -timeout).
//
// A guest test's subtest starts and ends when the test does in the guest,
// so go test (and -json, and the JUnit converters reading it) shows its
// real duration; its output is the guest test's own.
func Run(t *testing.T, cfg Config) *report.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("boots kernels in QEMU; not in -short mode")
	}
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		// One deadline for the whole run, leaving time to report before go
		// test's own timeout panics: a per-kernel timeout would start
		// again for each kernel queued behind Jobs.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Until(dl)/20))
		defer cancel()
	}
	narrow(t.Name(), &cfg)
	if cfg.Progress == nil {
		cfg.Progress = func(s Step) {
			if s.Phase != PhaseTests || s.Detail == "" {
				t.Logf("%s: %s %s", s.Kernel, s.Phase, s.Detail)
			}
		}
	}
	live := newLiveRun(t)
	started := time.Now()
	rep, err := run.Matrix(ctx, cfg, run.Hooks{Test: live.test, Kernel: live.kernel})
	reported := live.wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Allow.Overdue(started, rep); err != nil {
		t.Error(err)
	}
	for _, k := range rep.Kernels {
		if !reported(k) {
			t.Run(k.Name, func(t *testing.T) { reportKernel(t, k, nil) })
		}
	}
	return rep
}

// narrow applies the -test.run pattern's kernel and guest parts to cfg.
func narrow(name string, cfg *Config) {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		narrowTo(f.Value.String(), name, cfg)
	}
}

// narrowTo applies the -run pattern pat to cfg for the test called name.
func narrowTo(pat, name string, cfg *Config) {
	parts := run.SplitPattern(pat)
	depth := strings.Count(name, "/") + 1
	if len(parts) <= depth {
		return
	}
	if kp := parts[depth]; kp != "" {
		var keep []string
		for _, s := range cfg.Selectors() {
			if matchString(kp, s) {
				keep = append(keep, s)
			}
		}
		if len(keep) > 0 { // a pattern on ABIs only is checked after the run
			cfg.Kernels = keep
		}
	}
	if len(parts) > depth+1 {
		guest := strings.Join(parts[depth+1:], "/")
		if !strings.HasPrefix(guest, "build") && !strings.HasPrefix(guest, "boot") {
			cfg.TestArgs = append(cfg.TestArgs, "-test.run="+guest)
		}
	}
}

// reportKernel turns one kernel's results into subtests. The tests in
// live had subtests while they ran, ending with the status given: one whose
// report says worse (a finding attributed later) fails the kernel's
// subtest instead.
func reportKernel(t *testing.T, k *report.Kernel, live map[report.TestKey]report.Status) {
	if k.Status == report.Error {
		t.Fatalf("infrastructure error: %s", k.Error)
	}
	if k.Status == report.NotRun {
		t.Skipf("not run: %s", k.Error) // e.g. the test's deadline came first
	}
	if k.Status == report.Skip {
		t.Skip(k.Note) // a series its architecture lacks, beside one that has it
	}
	if k.Build != nil {
		t.Run("build", func(t *testing.T) {
			for _, d := range k.Build.Warnings {
				t.Logf("%s", d)
			}
			if k.Build.Status != report.Pass {
				t.Fatalf("%s\n%s", k.Build.Error, joinDiags(k.Build.Errors))
			}
		})
	}
	if k.Boot != nil && k.Boot.Status != report.Pass {
		t.Errorf("boot: %s %s\n%s", k.Boot.Status, k.Boot.Error, k.Boot.Hang)
	}
	for _, m := range k.Modules {
		if m.Load != report.Pass {
			t.Errorf("load %s: %s", m.Name, m.Error)
		}
		if m.Unload == report.Fail {
			t.Errorf("unload %s: %s", m.Name, m.UnloadError)
		}
	}
	for _, f := range k.Findings {
		switch {
		case f.Blames():
			t.Errorf("%s\n%s", f.Reason(), f.Report)
		case f.Allowed != nil && f.Test == "":
			t.Logf("%s, %s", f.Reason(), f.Allowed)
		case f.KernelOwn():
			t.Logf("%s", f.Reason())
		}
	}
	for _, tt := range k.Tests {
		key := report.TestKey{Package: tt.Package, Name: tt.Name}
		if st, ok := live[key]; ok {
			if tt.Status.Failed() && !st.Failed() {
				t.Errorf("%s: %s: %s", tt.Name, tt.Status, lastLines(tt.Output, 3))
			}
			continue
		}
		parent := tt.Name[:max(strings.LastIndex(tt.Name, "/"), 0)]
		if _, ok := live[report.TestKey{Package: tt.Package, Name: parent}]; ok && parent != "" {
			t.Errorf("%s: %s (after its test's end in the guest)", tt.Name, tt.Status)
			continue
		}
		if !strings.Contains(tt.Name, "/") {
			reportTest(t, k, tt)
		}
	}
}

// reportTest runs a subtest for tt, with one for each of its own subtests:
// those of its package (two packages may have tests of the same name).
func reportTest(t *testing.T, k *report.Kernel, tt *report.Test) {
	t.Run(tt.Name[strings.LastIndex(tt.Name, "/")+1:], func(t *testing.T) {
		for _, sub := range k.Tests {
			rest, ok := strings.CutPrefix(sub.Name, tt.Name+"/")
			if ok && sub.Package == tt.Package && rest != "" && !strings.Contains(rest, "/") {
				reportTest(t, k, sub)
			}
		}
		var fs []report.Finding
		for _, i := range tt.Findings {
			fs = append(fs, k.Findings[i])
		}
		reportResult(t, tt, fs)
	})
}

// reportResult gives a guest test's result to its subtest: its findings
// as errors (logged, the allowed ones), its status, and its output (the
// guest's framing lines left out: the subtest has its own).
func reportResult(t *testing.T, tt *report.Test, findings []report.Finding) {
	for _, f := range findings {
		if f.Allowed != nil {
			t.Logf("kernel %s, %s", f.Headline(), f.Allowed)
			continue
		}
		t.Errorf("kernel %s\n%s", f.Headline(), f.Report)
	}
	if tt.AfterReboot {
		t.Log("ran in a fresh VM, after an earlier test crashed or hung the kernel")
	}
	switch tt.Status {
	case report.Pass:
		if out := guestOutput(tt.Output); out != "" {
			io.WriteString(t.Output(), out)
		}
	case report.Skip:
		t.Skip(strings.TrimSpace(lastLines(guestOutput(tt.Output), 3)))
	default:
		t.Errorf("%s in the guest:\n%s", tt.Status, guestOutput(tt.Output))
	}
}

// guestOutput is a guest test's output without go test's framing lines
// ("=== RUN", "--- PASS: ..."), which the host's subtest prints itself.
func guestOutput(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- PASS: ") || strings.HasPrefix(trimmed, "--- FAIL: ") || strings.HasPrefix(trimmed, "--- SKIP: ") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func joinDiags(ds []report.Diagnostic) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.String())
	}
	return strings.Join(s, "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func matchString(pat, s string) bool {
	ok, err := regexp.MatchString(pat, s)
	return err == nil && ok
}
