package main

import (
	"slices"
	"testing"
)

func TestFuzzCrashLines(t *testing.T) {
	const (
		kernelReport = "kmodvm-fuzz: kernel report: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]\nkmodvm-fuzz: input YWJj\n==1== ERROR: libFuzzer: deadly signal\n"
		crash        = "crash-a9993e364706816aba3e25717850c26c9cd0d89d" // sha1("abc")
		kept         = "--- kmodvm: input kept: /out/k/" + crash + " (3 bytes, minimized from 8; the original: /out/k/original-1)\n"
		summary      = "--- kmodvm: fuzzed in 3 VMs, 58s of fuzzing; 3 kernel findings of 1 titles: KASAN (x3)\n"
	)
	for _, c := range []struct {
		name, out, replay string
		want              []string
	}{
		{"kernel report", kernelReport + kept + summary, "", []string{"kernel report after an input: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]",
			"input kept: /out/k/" + crash + " (3 bytes, minimized from 8; the original: /out/k/original-1)",
			"to run it alone: the same kmodvm fuzz command with --replay /out/k/" + crash,
			"fuzzed in 3 VMs, 58s of fuzzing; 3 kernel findings of 1 titles: KASAN (x3)"}},
		{"kernel report on replay", kernelReport, "/in/x", []string{"kernel report after an input: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]"}},
		{"harness crash", "==1== ERROR: libFuzzer: deadly signal\n", "",
			[]string{"the harness itself crashed (ERROR: libFuzzer: deadly signal): a bug in user space, not a kernel finding"}},
		{"replay without a report", "Running: /fuzz/replay/x\nExecuted /fuzz/replay/x in 3 ms\n", "/in/x", []string{"no kernel report after the input"}},
		{"fuzzed without a report", "Done 9 runs in 1 second(s)\n", "", nil},
		{"panic from the ring", "--- kmodvm: the guest ended with the kernel's report \"Kernel panic - not syncing: x\", before the harness printed its input: replaying\n" + kept + summary, "",
			[]string{"kernel report that ended the guest: Kernel panic - not syncing: x",
				"input kept: /out/k/" + crash + " (3 bytes, minimized from 8; the original: /out/k/original-1)",
				"to run it alone: the same kmodvm fuzz command with --replay /out/k/" + crash,
				"fuzzed in 3 VMs, 58s of fuzzing; 3 kernel findings of 1 titles: KASAN (x3)"}},
		{"sequence from the ring", "--- kmodvm: the guest ended with the kernel's report \"BUG: soft lockup\", before\n--- kmodvm: last inputs kept: /out/k/crash-seq-1 (the last 2 inputs)\n", "",
			[]string{"kernel report that ended the guest: BUG: soft lockup", "last inputs kept: /out/k/crash-seq-1 (the last 2 inputs)"}},
		{"input lost", "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input #\n", "", []string{"the input of the kernel report is lost: the harness's input line: illegal base64 data at input byte 0"}},
	} {
		if got := fuzzCrashLines(c.out, c.replay); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
