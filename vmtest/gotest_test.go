package vmtest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// helperEnv makes a test of this file run as the helper process of
// another: its subtests' verdicts, or go test's timeout, are what the
// other test checks.
const helperEnv = "KMODVM_GOTEST_HELPER"

// runHelper runs the test named name in a child process of this binary
// with args and returns its -test.v output.
func runHelper(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + name + "$", "-test.v"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	out, _ := cmd.CombinedOutput() // its subtests fail on purpose
	return string(out)
}

func TestReportHelperSameNames(t *testing.T) {
	if os.Getenv(helperEnv) != t.Name() {
		t.Skip("the helper of TestSubtestsStayWithTheirPackage")
	}
	reportKernel(t, &report.Kernel{Name: "k", Status: report.Fail, Tests: []*report.Test{
		{Package: "a", Name: "TestSame", Status: report.Pass},
		{Package: "a", Name: "TestSame/one", Status: report.Pass},
		{Package: "b", Name: "TestSame", Status: report.Fail},
		{Package: "b", Name: "TestSame/two", Status: report.Fail},
	}}, nil)
}

// Two test packages with a test of the same name: each test's subtests
// are its own package's, not both packages'.
func TestSubtestsStayWithTheirPackage(t *testing.T) {
	out := runHelper(t, "TestReportHelperSameNames")
	for _, want := range []string{"--- PASS: TestReportHelperSameNames/TestSame/one ", "--- FAIL: TestReportHelperSameNames/TestSame#01/two "} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the helper's output:\n%s", want, out)
		}
	}
	for _, bad := range []string{"TestReportHelperSameNames/TestSame/two", "TestReportHelperSameNames/TestSame#01/one"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s reported under the other package's test:\n%s", bad, out)
		}
	}
}

func TestRunHelperDeadline(t *testing.T) {
	if os.Getenv(helperEnv) != t.Name() {
		t.Skip("the helper of TestRunKeepsToTheTestDeadline")
	}
	// Each kernel hangs until it is stopped: the first until the run's
	// deadline, and the second must not start a clock of its own then.
	Run(t, Config{
		Kernels:     []string{"6.1", "5.10"},
		Modules:     []string{"../testdata/faultmod"},
		Tests:       []string{"../testdata/faultmod/guest"},
		TestArgs:    []string{"-test.run=^TestHangInRead$"},
		TestTimeout: time.Hour,
		Jobs:        1,
		OutDir:      t.TempDir(),
	})
}

// Kernels queued behind Jobs finish (or are stopped) before go test's
// -timeout, which otherwise panics and loses the whole report.
func TestRunKeepsToTheTestDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("boots kernels")
	}
	start := time.Now()
	out := runHelper(t, "TestRunHelperDeadline", "-test.timeout=150s")
	t.Logf("helper took %v:\n%s", time.Since(start).Round(time.Second), out)
	if strings.Contains(out, "panic: test timed out") {
		t.Error("go test's timeout fired: Run overran the test's deadline")
	}
	if !strings.Contains(out, "--- FAIL: TestRunHelperDeadline") {
		t.Error("the helper did not report its kernels")
	}
}

func TestLiveHelper(t *testing.T) {
	if os.Getenv(helperEnv) != t.Name() {
		t.Skip("the helper of TestGuestTestsLastAsLongAsInTheGuest")
	}
	live := newLiveRun(t)
	ev := func(lt collect.Live) { live.test("6.1", "k", lt) }
	// started returns once the subtests of the tests started so far have
	// started, so that the guest's time after it lies within them: the
	// kernel's subtest takes no event while one starts, and it takes (and
	// ignores) the end of a test that never started after them.
	started := func() {
		ev(collect.Live{Package: "p", Name: "TestNeverStarted", End: &report.Test{Package: "p", Name: "TestNeverStarted"}})
		live.mu.Lock()
		lk := live.kernels[liveKey("6.1", "k")]
		live.mu.Unlock()
		for deadline := time.Now().Add(10 * time.Second); len(lk.events) > 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the kernel's subtest took no event in 10 s")
			}
		}
	}
	slow := &report.Test{Package: "p", Name: "TestSlow", Status: report.Pass, Output: "=== RUN   TestSlow\nhello from the guest\n--- PASS: TestSlow (0.30s)\n"}
	ev(collect.Live{Package: "p", Name: "TestSlow"})
	ev(collect.Live{Package: "p", Name: "TestSlow/sub"})
	started()
	time.Sleep(300 * time.Millisecond)
	ev(collect.Live{Package: "p", Name: "TestSlow/sub", End: &report.Test{Package: "p", Name: "TestSlow/sub", Status: report.Pass}})
	ev(collect.Live{Package: "p", Name: "TestSlow", End: slow})
	ev(collect.Live{Package: "p", Name: "TestLater"})
	ev(collect.Live{Package: "p", Name: "TestLater", End: &report.Test{Package: "p", Name: "TestLater", Status: report.Pass}})
	ev(collect.Live{Package: "p", Name: "TestCrash"})
	started()
	time.Sleep(200 * time.Millisecond)
	// The VM panics; the kernel boots again for what is left.
	crash := &report.Test{Package: "p", Name: "TestCrash", Status: report.Crash, Output: "the VM ended"}
	ev(collect.Live{VM: &report.Kernel{Selector: "6.1", Name: "k", Tests: []*report.Test{crash}}})
	time.Sleep(300 * time.Millisecond)
	live.kernel(&report.Kernel{Selector: "6.1", Name: "k", Status: report.Fail,
		Findings: []report.Finding{{Kind: "WARNING", Title: "WARNING in x"}},
		Tests: []*report.Test{slow, {Package: "p", Name: "TestSlow/sub", Status: report.Pass},
			{Package: "p", Name: "TestLater", Status: report.Fail, Findings: []int{0}, Output: "the kernel reported WARNING in x during this test"},
			crash}})
	live.wait()
}

// Under vmtest.Run a guest test's subtest starts and ends with the test in
// the guest, so go test shows its real duration and its output; what only
// the kernel's report knows (a crash, a finding attributed late) still
// fails the right subtest.
func TestGuestTestsLastAsLongAsInTheGuest(t *testing.T) {
	out := runHelper(t, "TestLiveHelper")
	// At least as long as the guest took (a loaded machine adds to it).
	for _, want := range []string{
		`--- PASS: TestLiveHelper/k/TestSlow \((0\.[3-9]|[1-9])`,
		`--- PASS: TestLiveHelper/k/TestSlow/sub \((0\.[3-9]|[1-9])`,
		`--- FAIL: TestLiveHelper/k/TestCrash \((0\.[2-9]|[1-9])`, // ended with its VM
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no %q in the helper's output:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"hello from the guest",
		"TestLater: fail: the kernel reported WARNING in x",
		"--- FAIL: TestLiveHelper/k (",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the helper's output:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--- PASS: TestSlow") {
		t.Errorf("the guest's own framing lines were carried:\n%s", out)
	}
}

// KUnit cases become go test subtests like guest tests do, parameters
// nested under their case.
func TestKUnitCasesAreGoSubtests(t *testing.T) {
	k := &report.Kernel{Name: "6.1-debug", Status: report.Pass, Tests: []*report.Test{
		{Package: "kernel/kunit/mmapdrv_checks", Name: "mmapdrv_mmap_fits_test", Status: report.Pass},
		{Package: "kernel/kunit/mmapdrv_checks", Name: "mmapdrv_write_len_test", Status: report.Pass},
		{Package: "kernel/kunit/mmapdrv_checks", Name: "mmapdrv_write_len_test/empty", Status: report.Pass},
		{Package: "kernel/kunit/mmapdrv_checks", Name: "mmapdrv_write_len_test/at_end", Status: report.Skip, Output: "SKIP not today\n"},
	}}
	// Run with -v to see them: 6.1-debug/mmapdrv_write_len_test/empty and
	// so on; a passed and a skipped case must leave the kernel passed.
	if !t.Run("6.1-debug", func(t *testing.T) { reportKernel(t, k, nil) }) {
		t.Errorf("passed and skipped KUnit cases failed their kernel's subtest")
	}
}

func TestRunPatternNarrowsKernelsAndGuestTests(t *testing.T) {
	cases := []struct {
		pat      string
		kernels  []string
		testArgs []string
	}{
		{"TestMatrix", nil, nil},
		{"TestMatrix/7.3", []string{"7.3"}, nil},
		{"TestMatrix/6.1", []string{"6.1", "6.12"}, nil}, // unanchored, as go test matches
		{"TestMatrix/^6.1$/TestMmap/private", []string{"6.1"}, []string{"-test.run=TestMmap/private"}},
		{"TestMatrix//TestSize", nil, []string{"-test.run=TestSize"}},
		{"TestMatrix/7.3/build", []string{"7.3"}, nil},
		{"TestMatrix/6.1.0-57-amd64/TestSize", nil, []string{"-test.run=TestSize"}}, // an ABI: checked after the run
		{"TestMatrix/[67]\\.\\d/TestA", []string{"6.1", "6.12", "7.3"}, []string{"-test.run=TestA"}},
	}
	for _, c := range cases {
		cfg := Config{Kernels: []string{"5.10", "6.1", "6.12", "7.3"}}
		narrowTo(c.pat, "TestMatrix", &cfg)
		want := c.kernels
		if want == nil {
			want = []string{"5.10", "6.1", "6.12", "7.3"}
		}
		if strings.Join(cfg.Kernels, ",") != strings.Join(want, ",") || strings.Join(cfg.TestArgs, " ") != strings.Join(c.testArgs, " ") {
			t.Errorf("%q: kernels %v, args %v; want %v, %v", c.pat, cfg.Kernels, cfg.TestArgs, want, c.testArgs)
		}
	}
}
