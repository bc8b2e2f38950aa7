package report

import (
	"fmt"
	"strings"
	"testing"
)

// Each real run's failures: what failed, on which kernels, why, and the
// bugs blamed on it with the module's source line.
func TestFailuresOfRealRuns(t *testing.T) {
	for _, tc := range []struct {
		run  string
		want []string
	}{
		{"pass", nil},
		{"warn", []string{
			"test TestWarnDuringPassingTest fail on 6.1.0-57-amd64 | WARNING in faultmod_ioctl at ../../testdata/faultmod/faultmod.c:168",
			"test TestOopsInChild fail on 6.1.0-57-amd64: faults_test.go:136: child: the child did not finish exiting after the fault | BUG: kernel NULL pointer dereference in faultmod_ioctl at ../../testdata/faultmod/faultmod.c:171",
			"finding module faultmod could not be unloaded fail on 6.1.0-57-amd64: outside any test: resource temporarily unavailable (a reference was leaked, or something still uses the module) | module faultmod could not be unloaded",
		}},
		{"panic-reboot", []string{
			"test TestPanic crash on 6.1.0-57-amd64: the VM ended while this test ran (crash) | Kernel panic - not syncing: faultmod: panic requested at ../../testdata/faultmod/faultmod.c:175",
		}},
		{"oops-hang", []string{
			`test TestOopsThenHang fail on 6.1.0-57-amd64: no progress after the kernel reported "Oops: 0000 [#1] PREEMPT SMP NOPTI" (ended after 27s); kmodvm ended it | BUG: kernel NULL pointer dereference in faultmod_ioctl at ../../testdata/faultmod/faultmod.c:171`,
			"finding module faultmod could not be unloaded fail on 6.1.0-57-amd64: outside any test: resource temporarily unavailable (a reference was leaked, or something still uses the module) | module faultmod could not be unloaded",
		}},
		{"vm-hang", []string{
			"test TestAPass timeout on 6.1.0-57-amd64: the VM ended while this test ran (timeout) | BUG: soft lockup in handle_softirqs at ../../testdata/faultmod/faultmod.c:91",
		}},
		{"flood", []string{
			"finding 8161 kernel log records lost (the guest's log buffer overran before they were read): a kernel report may be missing fail on 6.1.0-57-amd64: outside any test: missing: 443 record(s) from #418",
		}},
	} {
		got := failureLines(readRun(t, tc.run))
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d failures, want %d:\n%s", tc.run, len(got), len(tc.want), strings.Join(got, "\n"))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("%s: failure %d:\n got %s\nwant %s", tc.run, i, got[i], w)
			}
		}
	}
}

// failureLines renders each failure on one line: kind, name, status,
// kernels and why, then its bugs and their source lines.
func failureLines(r *Report) []string {
	var out []string
	for _, f := range r.Failures() {
		s := fmt.Sprintf("%s %s %s on %s", f.Kind, f.Name, f.Status, strings.Join(f.Kernels(), ", "))
		if f.Why != "" {
			s += ": " + f.Why
		}
		for _, b := range f.Bugs() {
			s += " | " + b.Headline()
			if fr, ok := b.Source(); ok {
				s += " at " + fr.Where()
			}
		}
		out = append(out, s)
	}
	return out
}

// A failure on several kernels is one, naming them all; steps before
// tests; a kernel without a verdict says why once.
func TestFailuresOfTheHTMLFixture(t *testing.T) {
	r, err := ReadFile("testdata/html/report.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kernel kmodvm error error on 5.10: fetch: resolve 5.10: no linux-image package matches in bullseye-security (is the archive index stale? try without --offline)",
		"test TestNewKernelsOnly/major fail on 6.1.0-57-amd64: faultdemo_test.go:67: release 6.1.0-57-amd64: this demo wants a 7.x kernel",
		"test TestWarnIsCaught timeout on 6.12.57+deb13-amd64: the test binary timed out after 30s | INFO: task hung in faultmod_read",
		"test TestLeakedReference crash on 6.12.57+deb13-amd64: the kernel panicked: Kernel panic - not syncing: faultmod: panic requested | Kernel panic: faultmod: panic requested",
		"finding WARNING in faultmod_ioctl fail on 6.1.0-57-amd64: outside any test | WARNING in faultmod_ioctl",
		"finding module faultmod could not be unloaded fail on 6.1.0-57-amd64, 7.3.4+deb13-amd64: outside any test: resource temporarily unavailable (a reference was leaked, or something still uses the module) | module faultmod could not be unloaded",
	}
	if got := failureLines(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Steps fail before tests run; a subtest's failure is told once, on the
// subtest; an architecture the name does not say is named.
func TestFailuresOfStepsAndSubtests(t *testing.T) {
	r := annotated()
	r.Kernels[1].Arch = "x"
	r.Kernels = append(r.Kernels, &Kernel{Name: "6.1.192-debug", Arch: "y", Status: Fail,
		Boot: &Boot{Status: Pass}, Modules: []Module{{Name: "m", Load: Pass}},
		Findings: []Finding{{Kind: "kmemleak", Title: "kmemleak: unreferenced object in m_init", Step: "unload m"}}})
	want := []string{
		"kernel kmodvm error error on 5.10: fetch: no linux-image package matches 5.10",
		"build build fail on 7.3.4+deb13-amd64: /src/mod/kmod/mmapdrv.c:120:2: error: implicit declaration of function 'vm_flags_set'; did you mean 'vm_flags_clear'?",
		"boot boot crash on 6.12.57+deb13-amd64: Kernel panic - not syncing: Fatal exception",
		"load load helper fail on 6.12.57+deb13-amd64: finit_module: Unknown symbol in module (ENOENT)",
		"test TestMmap/private fail on 6.1.0-57-amd64 (x), 6.12.57+deb13-amd64: mmap_test.go:88: read 0x00, want 0x5a | WARNING in drv_mmap",
		"finding kmemleak: unreferenced object in m_init fail on 6.1.192-debug (y): during unload m | kmemleak: unreferenced object in m_init",
	}
	if got := failureLines(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
