package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// The summary a run ends with, pinned for real runs (vmtest/report's
// testdata): what failed first, then each kernel and the grid; a run with
// nothing wrong is as short as it was. go test -update rewrites the
// files in testdata/summary (review the diff!).
func TestSummaryGolden(t *testing.T) {
	for _, name := range []string{"pass", "warn", "panic-reboot", "oops-hang", "vm-hang", "flood", "html", "multiarch"} {
		path := filepath.Join("..", "..", "vmtest", "report", "testdata", "runs", name, "report.json")
		if name == "html" {
			path = filepath.Join("..", "..", "vmtest", "report", "testdata", "html", "report.json")
		}
		rep, err := report.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		printOutcome(&b, rep, false)
		golden := filepath.Join("testdata", "summary", name+".txt")
		if *updateFlags {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != string(want) {
			t.Errorf("%s: summary differs from %s:\n%s", name, golden, got)
		}
	}
}

// One failing test among 128: the first lines after the run name it, its
// finding and the module's line.
func TestSummaryLeadsWithWhatFailed(t *testing.T) {
	rep, err := report.ReadFile(filepath.Join("..", "..", "vmtest", "report", "testdata", "runs", "warn", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printOutcome(&b, rep, false)
	lines := strings.Split(b.String(), "\n")
	want := []string{
		"",
		"What failed:",
		"  ❌ TestWarnDuringPassingTest fail on 6.1.0-57-amd64",
		"      🐞 WARNING in faultmod_ioctl (during guest: TestWarnDuringPassingTest)",
		"         at ../../testdata/faultmod/faultmod.c:168, faultmod_ioctl+0x1f0/0x3e2 [faultmod]",
	}
	if got := strings.Join(lines[:len(want)], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("the summary opens with:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
