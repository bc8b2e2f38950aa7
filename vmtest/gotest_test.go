package vmtest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

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
	ev := func(lt liveTest) { live.test("6.1", "k", lt) }
	slow := &report.Test{Package: "p", Name: "TestSlow", Status: report.Pass, Output: "=== RUN   TestSlow\nhello from the guest\n--- PASS: TestSlow (0.30s)\n"}
	ev(liveTest{Package: "p", Name: "TestSlow"})
	ev(liveTest{Package: "p", Name: "TestSlow/sub"})
	time.Sleep(300 * time.Millisecond)
	ev(liveTest{Package: "p", Name: "TestSlow/sub", End: &report.Test{Package: "p", Name: "TestSlow/sub", Status: report.Pass}})
	ev(liveTest{Package: "p", Name: "TestSlow", End: slow})
	ev(liveTest{Package: "p", Name: "TestLater"})
	ev(liveTest{Package: "p", Name: "TestLater", End: &report.Test{Package: "p", Name: "TestLater", Status: report.Pass}})
	ev(liveTest{Package: "p", Name: "TestCrash"})
	time.Sleep(200 * time.Millisecond)
	// The VM panics; the kernel boots again for what is left.
	crash := &report.Test{Package: "p", Name: "TestCrash", Status: report.Crash, Output: "the VM ended"}
	ev(liveTest{VM: &report.Kernel{Selector: "6.1", Name: "k", Tests: []*report.Test{crash}}})
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
