package vmtest_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// coldFaults runs the fault tests with cold boots: `make test` runs them
// both ways, since a guest restored from a snapshot must fail, hang and
// panic exactly as a booted one.
var coldFaults = flag.Bool("faults.cold", false, "boot every fault test's VM (Config.NoSnapshot) instead of restoring the kernel's snapshot")

// faultRun runs the faultmod guest tests named by the regexp tests on
// kernels, and returns the report.
func faultRun(t *testing.T, kernels []string, tests string, extra ...func(*vmtest.Config)) *report.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	cfg := vmtest.Config{
		Kernels:    kernels,
		Modules:    []string{"../testdata/faultmod"},
		Tests:      []string{"../testdata/faultmod/guest"},
		TestArgs:   []string{"-test.run=^(" + tests + ")$"},
		OutDir:     t.TempDir(),
		Jobs:       1,
		NoSnapshot: *coldFaults,
	}
	for _, f := range extra {
		f(&cfg)
	}
	rep, err := vmtest.RunMatrix(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// deadlineRun is faultRun under a run timeout (Config.Timeout) that must
// be spent in the VM: a run of TestAPass first fetches the kernel, builds
// the module and the tests and makes the snapshot, which on a cold cache
// and a busy machine would otherwise eat the deadline before the test
// under it starts.
func deadlineRun(t *testing.T, kernels []string, tests string, timeout time.Duration, extra ...func(*vmtest.Config)) *report.Report {
	t.Helper()
	for _, k := range faultRun(t, kernels, "TestAPass", extra...).Kernels {
		if k.Status != report.Pass {
			t.Fatalf("%s: the warm-up run is %s, want pass: %s", k.Name, k.Status, k.Error)
		}
	}
	return faultRun(t, kernels, tests, append(extra, func(c *vmtest.Config) { c.Timeout = timeout })...)
}

func test(t *testing.T, k *report.Kernel, name string) *report.Test {
	t.Helper()
	for _, tt := range k.Tests {
		if tt.Name == name {
			return tt
		}
	}
	var names []string
	for _, tt := range k.Tests {
		names = append(names, fmt.Sprintf("%s (%s)", tt.Name, tt.Status))
	}
	boot := "none"
	if k.Boot != nil {
		boot = fmt.Sprintf("%s, snapshot %q, console %s, hang %q", k.Boot.Status, k.Boot.Snapshot, k.Boot.Console, k.Boot.Hang)
	}
	t.Fatalf("%s: no test %s among %d: %s; kernel %s (%s), boot %s", k.Name, name, len(k.Tests),
		strings.Join(names, ", "), k.Status, k.Error, boot)
	return nil
}

func wantStatus(t *testing.T, k *report.Kernel, name string, want report.Status) *report.Test {
	t.Helper()
	tt := test(t, k, name)
	if tt.Status != want {
		t.Errorf("%s: %s is %s, want %s\n%s", k.Name, name, tt.Status, want, tt.Output)
	}
	return tt
}

// wantFinding checks that test tt carries a finding of kind whose title
// contains title.
func wantFinding(t *testing.T, k *report.Kernel, tt *report.Test, kind, title string) {
	t.Helper()
	for _, i := range tt.Findings {
		f := k.Findings[i]
		if f.Kind == kind && strings.Contains(f.Title, title) {
			return
		}
	}
	var got []string
	for _, f := range k.Findings {
		got = append(got, f.Kind+": "+f.Title+" (during "+f.Test+")")
	}
	t.Errorf("%s: %s has no %s finding titled ~%q; kernel findings: %q", k.Name, tt.Name, kind, title, got)
}

func TestFaultGuestTestFailure(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestFail").Kernels[0]
	wantStatus(t, k, "TestAPass", report.Pass)
	wantStatus(t, k, "TestFail", report.Fail)
	if k.Status != report.Fail {
		t.Errorf("kernel %s, want fail", k.Status)
	}
}

func TestFaultWarningDuringAPassingTest(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestWarnDuringPassingTest|TestZAfterFault").Kernels[0]
	tt := wantStatus(t, k, "TestWarnDuringPassingTest", report.Fail)
	wantFinding(t, k, tt, "WARNING", "faultmod_ioctl")
	wantStatus(t, k, "TestAPass", report.Pass)
	wantStatus(t, k, "TestZAfterFault", report.Pass)
}

func TestFaultOopsBugGPFAndUsercopyFailTheirTests(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"7.3"}, "TestOopsInChild|TestBugInChild|TestGPFInChild|TestUsercopyInChild|TestZAfterFault").Kernels[0]
	for _, c := range []struct{ test, kind, title string }{
		{"TestOopsInChild", "Oops", "faultmod_ioctl"},
		{"TestBugInChild", "BUG", "faultmod"},
		{"TestGPFInChild", "general protection fault", "faultmod_ioctl"},
		{"TestUsercopyInChild", "usercopy", ""},
	} {
		tt := wantStatus(t, k, c.test, report.Fail)
		wantFinding(t, k, tt, c.kind, c.title)
	}
	wantStatus(t, k, "TestZAfterFault", report.Pass)
}

func TestFaultPanicIsReportedAtOnceAndSparesOtherKernels(t *testing.T) {
	t.Parallel()
	rep := faultRun(t, []string{"6.1", "5.10"}, "TestAPass|TestPanic", func(c *vmtest.Config) {
		c.TestArgs = append(c.TestArgs, "-only-on=6.1.")
		c.TestTimeout = 5 * time.Minute
	})
	var hit, spared *report.Kernel
	for _, k := range rep.Kernels {
		if strings.HasPrefix(k.Name, "6.1.") {
			hit = k
		} else {
			spared = k
		}
	}
	if hit.Boot == nil || hit.Boot.Status != report.Crash || !strings.Contains(hit.Boot.Error, "faultmod: panic requested") {
		t.Errorf("6.1 boot = %+v, want a crash naming the panic", hit.Boot)
	}
	tt := wantStatus(t, hit, "TestPanic", report.Crash)
	wantFinding(t, hit, tt, "Kernel panic", "faultmod")
	wantStatus(t, hit, "TestAPass", report.Pass)
	// The test binary's timeout is five minutes: a panic reported as a
	// timeout would take that long.
	if hit.Timing.Tests > 60 {
		t.Errorf("the panic took %.0fs to be reported", hit.Timing.Tests)
	}
	if spared.Status != report.Pass {
		t.Errorf("%s: %s (%s), want pass: another kernel's panic must not affect it", spared.Name, spared.Status, spared.Error)
	}
}

func TestFaultHangTimesOutWithBlockedTasks(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestHangInRead", func(c *vmtest.Config) {
		c.TestTimeout = 25 * time.Second
	}).Kernels[0]
	tt := wantStatus(t, k, "TestHangInRead", report.Timeout)
	if !strings.Contains(tt.Output, "blocked tasks") || !strings.Contains(tt.Output, "faultmod") {
		t.Errorf("timed-out test lacks the blocked-task dump naming faultmod:\n%s", tt.Output)
	}
	wantStatus(t, k, "TestAPass", report.Pass)
	if k.Boot == nil || k.Boot.Exit != "poweroff" {
		t.Errorf("boot = %+v, want the run to end cleanly", k.Boot)
	}
	hung := false
	for _, f := range k.Findings {
		hung = hung || f.Kind == "hung task"
	}
	if !hung {
		t.Error("no hung-task finding (hung_task_timeout_secs is 10, the timeout 25 s)")
	}
	// Both tests the run selects have a result: no reboot is needed.
	if len(k.Reboots) != 0 {
		t.Errorf("%d reboot(s) with no test left to run", len(k.Reboots))
	}
}

func TestFaultModuleThatFailsToLoad(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass", func(c *vmtest.Config) {
		c.Params = []string{"faultmod.fail_init=1"}
	}).Kernels[0]
	var m *report.Module
	for i := range k.Modules {
		if k.Modules[i].Name == "faultmod" {
			m = &k.Modules[i]
		}
	}
	if m == nil || m.Load != report.Fail || m.Errno != 12 {
		t.Fatalf("faultmod load = %+v, want a failure with ENOMEM (12)", m)
	}
	if k.Status != report.Fail || !strings.Contains(k.Error, "loading faultmod failed") {
		t.Errorf("kernel %s %q, want a failure naming the load", k.Status, k.Error)
	}
}

func TestFaultLeakedReferenceMakesUnloadAFinding(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestLeakReference").Kernels[0]
	found := false
	for _, f := range k.Findings {
		found = found || (f.Kind == "unload" && f.Module == "faultmod")
	}
	if !found || k.Status != report.Fail {
		t.Errorf("kernel %s, findings %+v: want an unload finding for faultmod", k.Status, k.Findings)
	}
}

func TestFaultSoftLockupIsAFinding(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestSoftLockup").Kernels[0]
	tt := wantStatus(t, k, "TestSoftLockup", report.Fail)
	wantFinding(t, k, tt, "soft lockup", "faultmod_softlockup")
	if n := len(k.Bugs()); n != 1 {
		t.Errorf("%d bug findings for one soft lockup, want 1 (console and kernel log deduplicated): %+v", n, k.Bugs())
	}
}

// Sleeping in atomic context leaves the kernel unfit for later tests (its
// preempt count is off), so it gets a VM of its own.
func TestFaultAtomicSleepIsAFinding(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAtomicSleep").Kernels[0]
	// The kernel may kill the task after the splat: fail or crash.
	tt := test(t, k, "TestAtomicSleep")
	if !tt.Status.Failed() {
		t.Errorf("TestAtomicSleep is %s, want failed", tt.Status)
	}
	wantFinding(t, k, tt, "sleep in atomic context", "faultmod_ioctl")
}

// A Go panic fails its test and ends the binary: the tests after it are
// listed, not run, saying why.
func TestFaultGoPanicInTest(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestGoPanic|TestZZAfterCrash").Kernels[0]
	tt := test(t, k, "TestGoPanic")
	if !tt.Status.Failed() || !strings.Contains(tt.Output, "assignment to entry in nil map") {
		t.Errorf("TestGoPanic = %s, want failed with the panic:\n%s", tt.Status, tt.Output)
	}
	wantStatus(t, k, "TestAPass", report.Pass)
	if after := wantStatus(t, k, "TestZZAfterCrash", report.NotRun); !strings.HasPrefix(after.Output, "not run: their binary ended before it ran") {
		t.Errorf("TestZZAfterCrash says %q, want that its binary ended", after.Output)
	}
}

// A kernel that panics before the agent reads the test's "=== RUN" line
// still has its crash reported, on that test: open, or blamed as the
// binary's next test.
func TestFaultPanicBeforeTheTestIsKnown(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestPanicAtOnce").Kernels[0]
	var hit *report.Test
	for _, tt := range k.Tests {
		if tt.Status == report.Crash {
			hit = tt
		}
	}
	if hit == nil || len(hit.Findings) == 0 || k.Findings[hit.Findings[0]].Kind != "Kernel panic" {
		t.Fatalf("no crashed test carries the panic: tests %+v, findings %+v", k.Tests, k.Findings)
	}
	if k.Status != report.Fail || k.Boot.Status != report.Crash {
		t.Errorf("kernel %s, boot %s: want fail and crash", k.Status, k.Boot.Status)
	}
}

// Records the agent never read (the guest's ring buffer overran) may have
// been a KASAN or lockdep report: the run must not pass, and says how many.
func TestFaultKernelLogOverrunFailsTheRun(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestFloodKernelLog").Kernels[0]
	wantStatus(t, k, "TestFloodKernelLog", report.Pass)
	if k.Status == report.Pass || !strings.Contains(k.Error, "kernel log records lost") {
		t.Errorf("kernel %s %q, want a failure naming the lost kernel log records", k.Status, k.Error)
	}
}

// A finding in the module's code names the faulting statement's line of
// the module's source, with the function inlined there.
func TestFaultFindingsNameTheModulesSourceLine(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestWarnDuringPassingTest|TestGPFInChild").Kernels[0]
	src := filepath.Join("..", "testdata", "faultmod", "faultmod.c")
	for _, c := range []struct {
		test, kind string
		line       int
		inlined    string
	}{
		{"TestWarnDuringPassingTest", "WARNING", 168, ""},                  // WARN(1, ...)
		{"TestGPFInChild", "general protection fault", 58, "faultmod_gpf"}, // READ_ONCE(obj->value)
	} {
		tt := test(t, k, c.test)
		found := false
		for _, i := range tt.Findings {
			f := k.Findings[i]
			if f.Kind != c.kind {
				continue
			}
			found = true
			fr, ok := f.Source()
			if !ok || fr.File != src || fr.Line != c.line {
				t.Errorf("%s: %s at %s %q, want %s:%d\n%s", c.test, f.Title, fr, fr.Where(), src, c.line, f.Trace())
			}
			if c.inlined != "" && (len(fr.Inline) < 2 || fr.Inline[0].Func != c.inlined) {
				t.Errorf("%s: %s: inline chain %+v, want %s innermost", c.test, f.Title, fr.Inline, c.inlined)
			}
		}
		if !found {
			t.Errorf("%s: no %s finding", c.test, c.kind)
		}
	}
}

// A run timeout shorter than the test timeout still reports a hang with
// the blocked task's stack: the test timeout is shortened to fit inside
// the run, and the agent's blocked-task dump names the module's function.
func TestFaultHangUnderRunTimeoutNamesTheBlockedFunction(t *testing.T) {
	t.Parallel()
	k := deadlineRun(t, []string{"6.1"}, "TestAPass|TestHangInRead", time.Minute).Kernels[0]
	tt := test(t, k, "TestHangInRead")
	if !tt.Status.Failed() || !strings.Contains(tt.Output, "faultmod_read") {
		t.Errorf("TestHangInRead is %s; want failed with the blocked task in faultmod_read:\n%s\nhang:\n%s", tt.Status, tt.Output, k.Boot.Hang)
	}
	wantStatus(t, k, "TestAPass", report.Pass)
}

// A test that hangs after an Oops is ended once it has made no progress
// for the fault grace period, not left to the test timeout, and reported
// as failed with the Oops and the task it left blocked.
func TestFaultOopsThenHangEndsWithinTheGracePeriod(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestOopsThenHang|TestZZAfterCrash").Kernels[0]
	tt := wantStatus(t, k, "TestOopsThenHang", report.Fail)
	wantFinding(t, k, tt, "Oops", "faultmod")
	if !strings.Contains(tt.Output, "no progress after the kernel reported") || !strings.Contains(tt.Output, "faultmod_read") {
		t.Errorf("TestOopsThenHang's output lacks the stall and the blocked task in faultmod_read:\n%s", tt.Output)
	}
	wantStatus(t, k, "TestAPass", report.Pass)
	// The binary was ended: its later tests ran in a fresh VM.
	if tt := wantStatus(t, k, "TestZZAfterCrash", report.Pass); !tt.AfterReboot {
		t.Errorf("TestZZAfterCrash ran in the wedged VM, want after a reboot")
	}
	// The test timeout is 10 minutes; the grace period 20 s.
	if k.Timing.Tests > 180 {
		t.Errorf("the tests took %.0fs: the stalled test waited for its timeout", k.Timing.Tests)
	}
}

// A guest whose agent stops after a kernel fault (here PID 1 is wedged in
// the kernel, as when a fault hits the agent itself) is ended by the host
// within the fault grace and its short diagnosis after the fault's report,
// not at the VM's timeout; the diagnosis names the code the agent is stuck
// in, and the later tests run after a reboot.
func TestFaultOopsThenTheAgentStopsEndsWithinTheGracePeriod(t *testing.T) {
	t.Parallel()
	const grace = 20 * time.Second
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestOopsThenAgentStops|TestZZAfterCrash", func(c *vmtest.Config) {
		c.FaultGrace = grace
	}).Kernels[0]
	tt := wantStatus(t, k, "TestOopsThenAgentStops", report.Crash)
	wantFinding(t, k, tt, "Oops", "faultmod")
	if k.Boot == nil || k.Boot.Exit != "stuck" {
		t.Fatalf("boot %+v: want the VM ended as stuck", k.Boot)
	}
	m := regexp.MustCompile(`the VM ended ([0-9.]+)s after the report`).FindStringSubmatch(k.Boot.Error)
	if m == nil {
		t.Fatalf("boot error %q: no time from the fault to the VM's end", k.Boot.Error)
	}
	after, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("fault to VM end: %.1fs; %s", after, k.Boot.Error)
	if limit := (grace + 10*time.Second).Seconds(); after > limit || after < grace.Seconds() {
		t.Errorf("the VM ended %.1fs after the fault, want within [%.0f, %.0f]", after, grace.Seconds(), limit)
	}
	if !strings.Contains(k.Boot.Hang, "faultmod_wedge_fn") || !strings.Contains(tt.Output, "faultmod_wedge_fn") {
		t.Errorf("the diagnosis does not name where the agent is stuck (faultmod_wedge_fn):\n%s\ntest output:\n%s", k.Boot.Hang, tt.Output)
	}
	if a := wantStatus(t, k, "TestAPass", report.Pass); a.AfterReboot {
		t.Error("TestAPass ran again after the reboot")
	}
	if z := wantStatus(t, k, "TestZZAfterCrash", report.Pass); !z.AfterReboot {
		t.Error("TestZZAfterCrash is not marked as run after a reboot")
	}
	if k.Status != report.Fail || len(k.Reboots) != 1 {
		t.Errorf("kernel %s with %d reboots, want fail and one reboot", k.Status, len(k.Reboots))
	}
}

// A kernel panic costs only the test that caused it: the tests after it
// run in a fresh VM, marked as such, and the panic stays the test's.
func TestFaultPanicCostsOnlyItsTest(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestAPass|TestPanic|TestZZAfterCrash").Kernels[0]
	tt := wantStatus(t, k, "TestPanic", report.Crash)
	wantFinding(t, k, tt, "Kernel panic", "faultmod")
	if a := wantStatus(t, k, "TestAPass", report.Pass); a.AfterReboot {
		t.Error("TestAPass ran again after the reboot")
	}
	if z := wantStatus(t, k, "TestZZAfterCrash", report.Pass); !z.AfterReboot {
		t.Error("TestZZAfterCrash is not marked as run after a reboot")
	}
	n := 0
	for _, tt := range k.Tests {
		if tt.Name == "TestPanic" {
			n++
		}
	}
	if n != 1 || len(k.Reboots) != 1 || k.Boot.Status != report.Crash {
		t.Errorf("TestPanic reported %d times, %d reboots, first boot %s: want the panic once and one reboot", n, len(k.Reboots), k.Boot.Status)
	}
	if k.Status != report.Fail {
		t.Errorf("kernel %s, want fail", k.Status)
	}
}

// A guest whose agent cannot run when the run's timeout comes is asked by
// the host, with SysRq keys on its keyboard, for its CPUs and blocked
// tasks: the test the deadline cut short names the module's function.
func TestFaultRunTimeoutDumpsAStuckGuest(t *testing.T) {
	t.Parallel()
	k := deadlineRun(t, []string{"6.1"}, "TestSpinPastTheRunTimeout", time.Minute).Kernels[0]
	tt := wantStatus(t, k, "TestSpinPastTheRunTimeout", report.Timeout)
	for _, want := range []string{"blocked tasks and CPUs at the deadline", "faultmod_softlockup"} {
		if !strings.Contains(tt.Output, want) {
			t.Errorf("the test's output lacks %q:\n%s\nhang:\n%s", want, tt.Output, k.Boot.Hang)
		}
	}
	if k.Boot == nil || k.Boot.Status != report.Timeout || !strings.Contains(k.Boot.Hang, "SysRq") {
		t.Fatalf("boot %+v: want a timeout with the SysRq dump", k.Boot)
	}
	wantLooks(t, k.Boot.Hang)
}

var (
	hangCPU   = regexp.MustCompile(`^CPU (\d+) \w+: `)
	hangLooks = regexp.MustCompile(` \((\d+) of (\d+) looks\)$`)
)

// wantLooks checks that the hang report looked at each CPU's instruction
// pointer eight times (qemu's ipSamples): every place a CPU was seen
// says "(n of 8 looks)", and a CPU's places add up to 8.
func wantLooks(t *testing.T, hang string) {
	t.Helper()
	const looks = 8
	seen := map[string]int{}
	cpu := ""
	for _, l := range strings.Split(hang, "\n") {
		if m := hangCPU.FindStringSubmatch(l); m != nil {
			cpu = m[1]
		} else if !strings.HasPrefix(strings.TrimSpace(l), "also ") {
			cpu = ""
			continue
		}
		m := hangLooks.FindStringSubmatch(l)
		if cpu == "" || m == nil || m[2] != strconv.Itoa(looks) {
			t.Errorf("hang report line %q: want a CPU's place seen in n of %d looks", l, looks)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		seen[cpu] += n
	}
	if len(seen) == 0 {
		t.Errorf("the hang report names no CPU's instruction pointer:\n%s", hang)
	}
	for c, n := range seen {
		if n != looks {
			t.Errorf("CPU %s: its places add up to %d looks, want %d:\n%s", c, n, looks, hang)
		}
	}
}
