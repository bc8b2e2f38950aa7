package run

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
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

// TestFuzzRunSummary: a title found again, by the same job or another,
// is not new, and is counted; the jobs' VMs and time add up.
func TestFuzzRunSummary(t *testing.T) {
	for _, c := range []struct {
		name   string
		runs   []fuzzRun
		titles []string
		want   string
	}{
		{"one job", []fuzzRun{{vms: 3, spent: 58 * time.Second}}, []string{"BUG: a", "BUG: a", "WARNING: b", "BUG: a"},
			"3 VMs, 58s of fuzzing; 4 kernel findings of 2 titles: BUG: a (x3); WARNING: b (x1)"},
		{"two jobs", []fuzzRun{{vms: 2, spent: 60 * time.Second}, {vms: 1, spent: 59 * time.Second}}, []string{"BUG: a", "BUG: a"},
			"3 VMs (2 jobs at once), 1m59s of fuzzing; 2 kernel findings of 1 title: BUG: a (x2)"},
		{"no finding", []fuzzRun{{vms: 1, spent: 30 * time.Second}, {vms: 1, spent: 30 * time.Second}}, nil,
			"2 VMs (2 jobs at once), 1m0s of fuzzing; 0 kernel findings"},
	} {
		sh := &fuzzShared{seen: map[string]int{}}
		var frs []*fuzzRun
		for i := range c.runs {
			c.runs[i].job, c.runs[i].sh = i+1, sh
			frs = append(frs, &c.runs[i])
		}
		var news []bool
		for i, title := range c.titles {
			news = append(news, frs[i%len(frs)].found(title))
		}
		for i, n := range news {
			if first := !slices.Contains(c.titles[:i], c.titles[i]); n != first {
				t.Errorf("%s: finding %d new %v, want %v", c.name, i, n, first)
			}
		}
		if got := summary(frs); got != harness.SummaryLine+c.want {
			t.Errorf("%s: %q, want %q", c.name, got, harness.SummaryLine+c.want)
		}
	}
}

// TestJobArgs: a seeded run's jobs get seeds of their own; an unseeded
// one's (libFuzzer's 0 is "pick one") and other flags stay.
func TestJobArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		k    int
		want string
	}{
		{[]string{"-seed=1", "-max_len=64"}, 1, "-seed=1 -max_len=64"},
		{[]string{"-seed=1", "-max_len=64"}, 3, "-seed=3 -max_len=64"},
		{[]string{"-seed=0"}, 2, "-seed=0"},
		{[]string{"-max_len=64"}, 2, "-max_len=64"},
	} {
		if got := strings.Join(jobArgs(c.args, c.k), " "); got != c.want {
			t.Errorf("jobArgs(%q, %d) = %q, want %q", c.args, c.k, got, c.want)
		}
	}
}

// TestVMArgs: each VM a seeded job goes on in after a finding gets a seed
// of its own, distinct from every other VM's of every job; an unseeded
// job's stay unseeded.
func TestVMArgs(t *testing.T) {
	for _, c := range []struct {
		args    []string
		v, jobs int
		want    string
	}{
		{[]string{"-seed=5", "-max_len=64"}, 1, 1, "-seed=5 -max_len=64"},
		{[]string{"-seed=5", "-max_len=64"}, 2, 1, "-seed=6 -max_len=64"},
		{[]string{"-seed=5"}, 3, 0, "-seed=7"},
		{[]string{"-seed=6"}, 2, 2, "-seed=8"},
		{[]string{"-seed=0"}, 4, 2, "-seed=0"},
		{[]string{"-runs=9"}, 4, 2, "-runs=9"},
	} {
		if got := strings.Join(vmArgs(c.args, c.v, c.jobs), " "); got != c.want {
			t.Errorf("vmArgs(%q, %d, %d) = %q, want %q", c.args, c.v, c.jobs, got, c.want)
		}
	}
	// Three jobs of -seed=1, four VMs each: twelve seeds, none twice.
	seen := map[string]string{}
	for k := 1; k <= 3; k++ {
		for v := 1; v <= 4; v++ {
			s := vmArgs(jobArgs([]string{"-seed=1"}, k), v, 3)[0]
			if other, ok := seen[s]; ok {
				t.Errorf("job %d VM %d has %s, as %s has", k, v, s, other)
			}
			seen[s] = fmt.Sprintf("job %d VM %d", k, v)
		}
	}
}

// TestFuzzJobsWait: the jobs beside the first join its test (output,
// findings, the longest time) and their VMs the reboots; without a first
// job, the kernel gets one.
func TestFuzzJobsWait(t *testing.T) {
	second := func() fuzzJobEnd {
		vjob := &report.Test{Package: "fuzz", Name: "fuzz", Status: report.Fail, Elapsed: 70, Output: "job 2", Findings: []int{0}}
		vm := &report.Kernel{Tests: []*report.Test{vjob}, Boot: &report.Boot{Status: report.Pass},
			Reboots: []*report.Boot{{Status: report.Pass}}, Findings: []report.Finding{{Title: "KASAN: x"}}, Files: map[string]string{}}
		return fuzzJobEnd{fr: &fuzzRun{job: 2}, vm: vm, job: vjob}
	}
	job := &report.Test{Package: "fuzz", Name: "fuzz", Status: report.Pass, Elapsed: 60, Output: "job 1"}
	kr := &report.Kernel{Tests: []*report.Test{job}, Files: map[string]string{}}
	js := &fuzzJobs{jobs: []fuzzJobEnd{second()}}
	got, frs := js.wait(kr, job)
	if got != job || len(frs) != 1 || job.Output != "job 1\njob 2" || job.Elapsed != 70 || job.Status != report.Fail ||
		len(job.Findings) != 1 || len(kr.Reboots) != 2 {
		t.Errorf("job %+v, reboots %d", job, len(kr.Reboots))
	}
	kr = &report.Kernel{Files: map[string]string{}}
	js = &fuzzJobs{jobs: []fuzzJobEnd{second()}}
	if got, _ := js.wait(kr, nil); got == nil || len(kr.Tests) != 1 || kr.Tests[0] != got || len(got.Findings) != 1 {
		t.Errorf("no first job: %+v, tests %d", got, len(kr.Tests))
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

// TestFuzzStatus: a fuzz job's status lines reach the run's progress as
// its own, at most one a second, its kernel report lines all; a
// minimizer's VM (job 0) sends none.
func TestFuzzStatus(t *testing.T) {
	var got []string
	cfg := &runcfg.Config{Progress: func(s runcfg.Step) {
		if job, line, ok := runcfg.ParseFuzzStep(s.Detail); ok && s.Phase == runcfg.PhaseTests {
			got = append(got, fmt.Sprintf("%d %s", job, line))
		}
	}}
	run := &kernelRun{r: &runner{cfg: cfg}, entry: &report.Kernel{Selector: "6.1-debug", Name: "6.1.192-debug"}}
	if run.fuzzStatus(0) != nil {
		t.Error("a minimizer's VM reports a fuzz job's status")
	}
	out := run.fuzzStatus(2)
	out(runcfg.FuzzName, "INFO: Seed: 1\n#2\tINITED cov: 8 ft: 12 corp: 1/1b exec/s: 0 rss: 24Mb\n")
	out(runcfg.FuzzName, "#3\tNEW    cov: 9 ft: 13 corp: 2/2b lim: 4 exec/s: 0 rss: 24Mb\n")
	out(runcfg.FuzzName, harness.ReportLine+"BUG: KASAN: x\n")
	out("suite", "#4\tNEW    cov: 9 ft: 14 corp: 3/3b lim: 4 exec/s: 0 rss: 24Mb\n")
	want := []string{"2 #2\tINITED cov: 8 ft: 12 corp: 1/1b exec/s: 0 rss: 24Mb", "2 " + harness.ReportLine + "BUG: KASAN: x"}
	if !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}
}

// TestMinimizeResult: a minimizer that saw its crash and found nothing
// smaller says so, even though the kernel report ended its VM's job
// (testdata/minimize/no-smaller.log: a real minimizer's output on 6.1-debug
// for a 2-byte input of testdata/fuzzbug's seeded bug); one that never
// saw its crash in a VM that died says the input ends the kernel.
func TestMinimizeResult(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "minimize", "no-smaller.log"))
	if err != nil {
		t.Fatal(err)
	}
	const line = "BUG: KASAN: slab-out-of-bounds in mmapdrv_ioctl+0x4ab/0x4e0 [mmapdrv]"
	orig := harness.KernelCrash{Report: line, Key: line, Input: []byte{0x2a, 0x00}}
	for _, c := range []struct {
		name, out string
		died      bool
		how       string
	}{
		{"saw its crash, VM died", string(out), true, "libFuzzer's -minimize_crash found no smaller input"},
		{"saw its crash", string(out), false, "libFuzzer's -minimize_crash found no smaller input"},
		{"never saw it, VM died", "INFO: Seed: 1\n", true, "not minimized: the input ends the kernel"},
		{"never saw it", "INFO: Seed: 1\n", false, "not minimized: the input alone did not reproduce"},
	} {
		if _, how := minimizeResult(orig, c.out, 42*time.Second, c.died); !strings.HasPrefix(how, c.how) {
			t.Errorf("%s: %q, want %q...", c.name, how, c.how)
		}
	}
}
