package run

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestMinimized reads a crash minimizer's output: the smallest input of
// the same report, or what the minimizer did instead.
func TestMinimized(t *testing.T) {
	const line = "BUG: KASAN: slab-out-of-bounds in f+0x4ab/0x4e0 [m]"
	orig := harness.KernelCrash{Report: line, Key: line, Input: []byte("12345678")}
	crash := func(key, b64 string) string {
		return harness.ReportLine + line + "\n" + harness.KeyLine + key + "\n" + harness.InputLine + b64 + "\n"
	}
	for _, c := range []struct {
		name, out, want, how string
	}{
		{name: "smaller", out: "CRASH_MIN: 'x' (8 bytes) caused a crash.\n" + crash(line, "MTIz"), want: "123",
			how: "minimized by libFuzzer's -minimize_crash in a fresh VM, 42s, the same report"},
		{name: "smaller, another bug", out: "CRASH_MIN: 'x' (8 bytes) caused a crash.\n" + crash("WARNING: g", "MTIz"), want: "12345678",
			how: "libFuzzer's -minimize_crash found no smaller input in a fresh VM in 42s"},
		{name: "not reproduced", out: "ERROR: the input /fuzz/replay/x did not crash\n", want: "12345678",
			how: "not minimized: the input alone did not reproduce the report"},
		{name: "bad input line", out: harness.ReportLine + line + "\n" + harness.InputLine + "#\n", want: "12345678",
			how: "not minimized: the harness's input line"},
	} {
		got, how := minimized(orig, c.out, 42*time.Second)
		if string(got.Input) != c.want || !strings.HasPrefix(how, c.how) {
			t.Errorf("%s: %q, %q; want %q, %q", c.name, got.Input, how, c.want, c.how)
		}
	}
}

// TestFuzzRunSummary: a title found again is not new, and is counted.
func TestFuzzRunSummary(t *testing.T) {
	fr := &fuzzRun{vms: 3, spent: 58 * time.Second, seen: map[string]int{}}
	var news []bool
	for _, title := range []string{"BUG: a", "BUG: a", "WARNING: b", "BUG: a"} {
		news = append(news, fr.found(title))
	}
	want := harness.SummaryLine + "3 VMs, 58s of fuzzing; 4 kernel findings of 2 titles: BUG: a (x3); WARNING: b (x1)"
	if got := fr.summary(); got != want || news[0] != true || news[1] || !news[2] || news[3] {
		t.Errorf("%q, new %v; want %q", got, news, want)
	}
}

// TestMergeFuzzVM: a later fuzz VM's job joins the first's (output,
// time, findings but the kernel's own), and its boot the reboots.
func TestMergeFuzzVM(t *testing.T) {
	job := &report.Test{Package: "fuzz", Name: "fuzz", Status: report.Fail, Elapsed: 10, Output: "first", Findings: []int{0}}
	kr := &report.Kernel{Tests: []*report.Test{job}, Findings: []report.Finding{{Title: "KASAN: x"}}, Files: map[string]string{}}
	vjob := &report.Test{Package: "fuzz", Name: "fuzz", Status: report.Fail, Elapsed: 5, Output: "second", Findings: []int{1}}
	vm := &report.Kernel{Tests: []*report.Test{vjob}, Boot: &report.Boot{Status: report.Pass},
		Findings: []report.Finding{{Title: "boot", Owner: "kernel"}, {Title: "KASAN: x"}},
		Files:    map[string]string{"console.reboot2.log": "/d/console.reboot2.log"}}
	mergeFuzzVM(kr, job, vm, vjob)
	if job.Output != "first\nsecond" || job.Elapsed != 15 || len(kr.Findings) != 2 || len(job.Findings) != 2 || job.Findings[1] != 1 ||
		len(kr.Reboots) != 1 || kr.Files["console.reboot2.log"] == "" {
		t.Errorf("job %+v, findings %+v, reboots %d, files %v", job, kr.Findings, len(kr.Reboots), kr.Files)
	}
}
