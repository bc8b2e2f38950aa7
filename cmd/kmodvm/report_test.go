package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// kernelResult is one kernel of a part, with one test of the given status.
func kernelResult(sel, abi string, status report.Status) *report.Kernel {
	k := &report.Kernel{Name: abi, Selector: sel, ABI: abi, Status: status,
		Build: &report.Build{Status: report.Pass}, Boot: &report.Boot{Status: report.Pass},
		Modules: []report.Module{{Name: "mmapdrv", Load: report.Pass, Unload: report.Pass}},
		Tests:   []*report.Test{{Package: "mmapdrv", Name: "TestMmap", Status: status}},
	}
	if status == report.Error {
		k.Error, k.Build, k.Boot, k.Modules, k.Tests = "boot: qemu exited", nil, nil, nil, nil
	}
	return k
}

// writePart writes a one-job report holding kernels and returns its path.
func writePart(t *testing.T, name string, partial bool, kernels ...*report.Kernel) string {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &report.Report{Started: t0, Finished: t0.Add(time.Minute), Partial: partial,
		Host: report.Host{Name: "runner", Accel: "tcg"}, Kernels: kernels}
	path := filepath.Join(t.TempDir(), name)
	if err := report.WriteFile(path, r.WriteJSON); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCLI runs kmodvm in-process and returns its stdout and exit status.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	code := exitCode(root.ExecuteContext(context.Background()))
	t.Logf("kmodvm %s: exit %d\nstderr: %s", strings.Join(args, " "), code, stderr.String())
	return stdout.String(), code
}

func TestReportMergeExitStatus(t *testing.T) {
	pass510 := writePart(t, "part-5.10.json", false, kernelResult("5.10", "5.10.0-46-amd64", report.Pass))
	pass61 := writePart(t, "part-6.1.json", false, kernelResult("6.1", "6.1.0-57-amd64", report.Pass))
	fail612 := writePart(t, "part-6.12.json", false, kernelResult("6.12", "6.12.117+deb13-amd64", report.Fail))
	broken73 := writePart(t, "part-7.3.json", false, kernelResult("7.3", "7.3.4+deb13-amd64", report.Error))
	partial := writePart(t, "part-partial.json", true, kernelResult("6.1", "6.1.0-57-amd64", report.Pass))
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	if err := os.WriteFile(garbage, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"all parts pass", []string{pass510, pass61}, exitOK},
		{"a failed test fails the merge", []string{pass510, fail612}, exitFailed},
		{"a series an architecture lacks (a skipped cell) does not", []string{filepath.Join("..", "..", "vmtest", "report", "testdata", "runs", "multiarch", "report.json")}, exitOK},
		{"an infrastructure error outranks a failure", []string{fail612, broken73, pass61}, exitInfra},
		{"a partial part is an infrastructure error", []string{pass510, partial}, exitInfra},
		{"a kernel whose part is missing is an infrastructure error", []string{"--expect", "5.10,6.1", pass510}, exitInfra},
		{"expected kernels all present", []string{"--expect", "5.10,6.1.0-57-amd64", pass510, pass61}, exitOK},
		{"no parts is a usage error", nil, exitUsage},
		{"no parts but expected kernels is an infrastructure error", []string{"--expect", "6.1"}, exitInfra},
		{"a missing part is a usage error", []string{pass510, filepath.Join(t.TempDir(), "absent.json")}, exitUsage},
		{"a corrupt part is a usage error", []string{garbage, pass510}, exitUsage},
		{"an unknown flag is a usage error", []string{"--xml", "x", pass510}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"report", "merge"}, tt.args...)
			if _, code := runCLI(t, args...); code != tt.want {
				t.Errorf("exit %d, want %d", code, tt.want)
			}
		})
	}
}

func TestReportMergePrintsTheMatrixWithoutOutputFlags(t *testing.T) {
	a := writePart(t, "a.json", false, kernelResult("6.12", "6.12.117+deb13-amd64", report.Fail))
	b := writePart(t, "b.json", false, kernelResult("5.10", "5.10.0-46-amd64", report.Pass))
	out, code := runCLI(t, "report", "merge", a, b, "--expect", "5.10,6.12,7.3")
	if code != exitInfra {
		t.Errorf("exit %d, want %d for the missing 7.3", code, exitInfra)
	}
	for _, want := range []string{"5.10.0-46-amd64", "6.12.117+deb13-amd64", "7.3", "TestMmap", "part is missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q:\n%s", want, out)
		}
	}
	_, matrix, _ := strings.Cut(out, "\n| |")
	if i, j := strings.Index(matrix, "5.10.0-46-amd64"), strings.Index(matrix, "6.12.117"); i < 0 || i > j {
		t.Errorf("kernels not in version order in the matrix:\n%s", out)
	}
}

func TestReportMergeWritesTheRequestedFiles(t *testing.T) {
	a := writePart(t, "a.json", false, kernelResult("6.1", "6.1.0-57-amd64", report.Pass))
	b := writePart(t, "b.json", false, kernelResult("5.10", "5.10.0-46-amd64", report.Pass))
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, "merged", name) }
	out, code := runCLI(t, "report", "merge", a, b,
		"--json", path("report.json"), "--junit", path("junit.xml"), "--markdown", path("summary.md"), "--html", path("report.html"))
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if out != "" {
		t.Errorf("stdout should stay empty when files are asked for, got:\n%s", out)
	}
	merged, err := report.ReadFile(path("report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range merged.Kernels {
		names = append(names, k.Name)
	}
	if got := strings.Join(names, " "); got != "5.10.0-46-amd64 6.1.0-57-amd64" {
		t.Errorf("merged kernels %q, want both parts in version order", got)
	}
	junit, err := os.ReadFile(path("junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit, &suites); err != nil || len(suites.Suites) != 2 {
		t.Errorf("junit.xml: %d suites (err %v), want one per kernel", len(suites.Suites), err)
	}
	md, err := os.ReadFile(path("summary.md"))
	if err != nil || !strings.Contains(string(md), "6.1.0-57-amd64") {
		t.Errorf("summary.md lacks the merged matrix (err %v):\n%s", err, md)
	}
	html, err := os.ReadFile(path("report.html"))
	if err != nil || !strings.Contains(string(html), "5.10.0-46-amd64") {
		t.Errorf("report.html lacks the kernels (err %v)", err)
	}
}

func TestReportMergeAnnotatesDiagnosticsRelativeToTheCheckout(t *testing.T) {
	root := t.TempDir()
	k := kernelResult("6.1", "6.1.0-57-amd64", report.Pass)
	k.Build.Warnings = []report.Diagnostic{{File: filepath.Join(root, "kmod", "mmapdrv.c"), Line: 42, Col: 7, Severity: "warning", Message: "unused variable 'n'"}}
	part := writePart(t, "a.json", false, k)
	tests := []struct {
		name      string
		workspace string
		args      []string
	}{
		{"--source-root names the checkout", "", []string{"--source-root", root}},
		{"GITHUB_WORKSPACE is the default", root, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GITHUB_WORKSPACE", tt.workspace)
			args := append([]string{"report", "merge", "--annotations", part}, tt.args...)
			out, code := runCLI(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0", code)
			}
			if !strings.HasPrefix(out, "::warning file=kmod/mmapdrv.c,line=42,col=7,") || !strings.Contains(out, "unused variable") {
				t.Errorf("want a warning on kmod/mmapdrv.c:42:7, got:\n%s", out)
			}
		})
	}
}

func TestReportShow(t *testing.T) {
	part := writePart(t, "a.json", false, kernelResult("6.12", "6.12.117+deb13-amd64", report.Fail))
	tests := []struct {
		name     string
		args     []string
		want     int
		contains string
	}{
		{"prints the matrix of a failed run and succeeds", []string{part}, exitOK, "6.12.117+deb13-amd64"},
		{"two reports is a usage error", []string{part, part}, exitUsage, ""},
		{"a missing report is a usage error", []string{filepath.Join(t.TempDir(), "absent.json")}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"report", "show"}, tt.args...)...)
			if code != tt.want {
				t.Errorf("exit %d, want %d", code, tt.want)
			}
			if !strings.Contains(out, tt.contains) {
				t.Errorf("output lacks %q:\n%s", tt.contains, out)
			}
		})
	}
}

// report merge --lcov sums the parts' module coverage into one tracefile:
// a line run n times on one kernel and m on another is run n+m times, and
// parts with no coverage make --lcov a usage error, not an empty file.
func TestReportMergeWritesTheSummedCoverage(t *testing.T) {
	real, err := report.ReadFile(filepath.Join("..", "..", "vmtest", "report", "testdata", "coverage", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	k := real.Kernels[0]
	other := *k
	other.ID, other.Name, other.Selector = "0123456789abcdef", "7.3.4-debug", "7.3-debug"
	a := writePart(t, "part-a.json", false, k)
	b := writePart(t, "part-b.json", false, &other)
	info := filepath.Join(t.TempDir(), "coverage.info")
	// The fixture's kernel is a failed one (its report keeps only the
	// coverage): the merge's verdict says so, and the tracefile is written.
	if _, code := runCLI(t, "report", "merge", a, b, "--lcov", info); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	f, err := os.Open(info)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	merged, err := coverage.ParseLCOV(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int]int64{}
	for _, f := range k.Coverage {
		want[f.Path] = map[int]int64{}
		for _, l := range f.Lines {
			want[f.Path][l.Number] = 2 * l.Count
		}
	}
	if len(merged) != len(want) {
		t.Fatalf("%d files in the tracefile, want %d", len(merged), len(want))
	}
	for _, f := range merged {
		for _, l := range f.Lines {
			if w, ok := want[f.Path][l.Number]; !ok || l.Count != w {
				t.Errorf("%s:%d run %d times, want %d (the two kernels' sum)", f.Path, l.Number, l.Count, w)
			}
		}
	}

	plain := writePart(t, "part-plain.json", false, kernelResult("6.1", "6.1.0-57-amd64", report.Pass))
	if _, code := runCLI(t, "report", "merge", plain, "--lcov", filepath.Join(t.TempDir(), "x.info")); code != exitUsage {
		t.Errorf("--lcov over parts without coverage: exit %d, want %d", code, exitUsage)
	}
}
