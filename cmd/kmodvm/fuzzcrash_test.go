package main

import (
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

func TestFuzzCrashLines(t *testing.T) {
	const (
		kernelReport = "kmodvm-fuzz: kernel report: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]\nkmodvm-fuzz: input YWJj\n==1== ERROR: libFuzzer: deadly signal\n"
		crash        = "crash-a9993e364706816aba3e25717850c26c9cd0d89d" // sha1("abc")
	)
	k := &report.Kernel{Files: map[string]string{crash: "/out/k/" + crash}}
	for _, c := range []struct {
		name, out, replay string
		want              []string
	}{
		{"kernel report", kernelReport, "", []string{"kernel report after an input: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]",
			"input kept: /out/k/" + crash, "to run it alone: the same kmodvm fuzz command with --replay /out/k/" + crash}},
		{"kernel report on replay", kernelReport, "/in/x", []string{"kernel report after an input: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]"}},
		{"harness crash", "==1== ERROR: libFuzzer: deadly signal\n", "",
			[]string{"the harness itself crashed (ERROR: libFuzzer: deadly signal): a bug in user space, not a kernel finding"}},
		{"replay without a report", "Running: /fuzz/replay/x\nExecuted /fuzz/replay/x in 3 ms\n", "/in/x", []string{"no kernel report after the input"}},
		{"fuzzed without a report", "Done 9 runs in 1 second(s)\n", "", nil},
		{"input lost", "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input #\n", "", []string{"the input of the kernel report is lost: the harness's input line: illegal base64 data at input byte 0"}},
	} {
		if got := fuzzCrashLines(k, c.out, c.replay); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
