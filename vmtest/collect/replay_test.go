package collect

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// wantFinding is a finding of a replayed run and where it must be
// attributed: a test ("package: name"), a step ("load mmapdrv"), the
// kernel itself (owner report.OwnerKernel), or nothing of those.
type wantFinding struct {
	kind, title       string
	test, step, owner string
}

// recording is a real run's kernel directory as the run wrote it
// (events.jsonl and console.log from its --out, in
// testdata/replay/<dir>/), how its VM ended, and what the collector must
// make of it.
type recording struct {
	dir string
	// vmEnd is what the tests the VM's end cut short became
	// (collect.End.Status); boot, the boot's status the runner gave the
	// VM's end (report.Boot.Status).
	vmEnd, boot report.Status
	// status is the kernel's verdict.
	status report.Status
	counts report.Counts
	// modules are "name load unload" for each module, in load order.
	modules []string
	// tests are the statuses of some tests, by "package: name".
	tests map[string]report.Status
	// findings are all the kernel's findings, in the report's order.
	findings []wantFinding
}

// recordings are the real runs replayed. Each is one kernel's events as its
// guest sent them; a new one is a directory and a row.
var recordings = []recording{
	{
		// The bundled mmapdrv suite on Debian's stock 6.1.0-57-amd64,
		// which passed: the module's load taints the kernel (notes, not
		// failures), one test skips itself. The guest powered off after
		// the agent's done; the runner then ends the tests still open,
		// none here, as crashed.
		dir: "6.1-pass", vmEnd: report.Crash, boot: report.Pass, status: report.Pass,
		counts:  report.Counts{Pass: 115, Skip: 1},
		modules: []string{"mmapdrv pass pass"},
		tests: map[string]report.Status{
			"mmapdrv: TestIoctlNumbersMatchCHeader":      report.Skip,
			"mmapdrv: TestBadBufsizeRefused":             report.Pass,
			"mmapdrv: TestBadBufsizeRefused/bufsize=abc": report.Pass,
		},
		findings: []wantFinding{
			{kind: report.KindTaint, title: "mmapdrv: loading out-of-tree module taints kernel", step: "load mmapdrv"},
			{kind: report.KindTaint, title: "mmapdrv: module verification failed: signature and/or required key missing - tainting kernel", step: "load mmapdrv"},
		},
	},
	{
		// kmod/ with the vfree of its exit removed, on kmodvm's 6.1-debug
		// kernel (kmemleak, KASAN, KUnit), running guest/mmapdrv, which
		// reloads the driver 54 times (guest/testenv): every unload leaks
		// the buffer the instance's init allocated. kmemleak dates them by
		// jiffies only; the agent's buffer was named after the KUnit
		// module loaded at the driver's freed init code; the suite's
		// slab fault injection kept 7 uevents from being sent. Each
		// object is the driver's load's, none a test's or the kernel's.
		dir: "6.1-debug-seeded-leak", vmEnd: report.Crash, boot: report.Pass, status: report.Fail,
		counts:  report.Counts{Pass: 128, Skip: 1},
		modules: []string{"mmapdrv pass pass", "mmapdrv_kunit pass pass"},
		tests:   map[string]report.Status{"mmapdrv: TestInitUnwindsFailedAllocations": report.Pass},
		findings: append([]wantFinding{
			{kind: report.KindTaint, title: "mmapdrv: loading out-of-tree module taints kernel", step: "load mmapdrv"},
		}, slices.Repeat([]wantFinding{{kind: "memory leak", title: "memory leak", step: "load mmapdrv"}}, 54)...),
	},
}

// readRecording returns a recording's file, or nil if it has none.
func readRecording(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replay", dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return b
}

// Each recorded run's events, decoded as the runner decodes a guest's
// events port, and its console make the report the run made: its tests,
// their statuses, its findings and where they are attributed, its verdict.
func TestReplayRecordedRuns(t *testing.T) {
	for _, rec := range recordings {
		t.Run(rec.dir, func(t *testing.T) {
			events := readRecording(t, rec.dir, "events.jsonl")
			if events == nil {
				t.Fatalf("testdata/replay/%s has no events.jsonl", rec.dir)
			}
			var dmesg bytes.Buffer
			c := New(Options{Dmesg: &dmesg})
			c.Decode(bytes.NewReader(events), nil)
			kr := &report.Kernel{Name: rec.dir, Boot: &report.Boot{Status: rec.boot}}
			c.Finish(kr, End{Status: rec.vmEnd, Console: readRecording(t, rec.dir, "console.log")})
			kr.Status, kr.Error = c.Verdict(kr)
			if kr.Status != rec.status || c.Loss() != "" {
				t.Errorf("verdict %s %q, channel loss %q; want %s", kr.Status, kr.Error, c.Loss(), rec.status)
			}
			if got := kr.Counts(); got != rec.counts {
				t.Errorf("counts %+v, want %+v", got, rec.counts)
			}
			checkModules(t, kr, rec.modules)
			checkTests(t, kr, rec.tests)
			checkFindings(t, kr, rec.findings)
			if dmesg.Len() == 0 {
				t.Error("the kernel log was not written")
			}
		})
	}
}

func checkModules(t *testing.T, kr *report.Kernel, want []string) {
	t.Helper()
	var got []string
	for _, m := range kr.Modules {
		got = append(got, fmt.Sprintf("%s %s %s", m.Name, m.Load, m.Unload))
	}
	if !slices.Equal(got, want) {
		t.Errorf("modules %q, want %q", got, want)
	}
}

func checkTests(t *testing.T, kr *report.Kernel, want map[string]report.Status) {
	t.Helper()
	for name, st := range want {
		var got *report.Test
		for _, tt := range kr.Tests {
			if tt.Package+": "+tt.Name == name {
				got = tt
			}
		}
		if got == nil || got.Status != st {
			t.Errorf("%s: %+v, want %s", name, got, st)
		}
	}
}

func checkFindings(t *testing.T, kr *report.Kernel, want []wantFinding) {
	t.Helper()
	var got []wantFinding
	for _, f := range kr.Findings {
		got = append(got, wantFinding{kind: f.Kind, title: f.Title, test: f.Test, step: f.Step, owner: f.Owner})
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got %+v\nwant %+v", got, want)
	}
	// A finding attributed to a test is among that test's own.
	for i, f := range kr.Findings {
		if f.Test == "" {
			continue
		}
		owned := false
		for _, tt := range kr.Tests {
			owned = owned || (tt.Package+": "+tt.Name == f.Test && slices.Contains(tt.Findings, i))
		}
		if !owned {
			t.Errorf("finding %d (%s) names test %q, which does not list it", i, f.Title, f.Test)
		}
	}
}
