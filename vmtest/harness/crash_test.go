package harness

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseCrash(t *testing.T) {
	for _, c := range []struct {
		name, out string
		want      KernelCrash
		ok, err   bool
	}{
		{name: "report and input", ok: true,
			out:  "#512\tNEW    cov: 3\nkmodvm-fuzz: kernel report: BUG: KASAN: slab-out-of-bounds in mmapdrv_ioctl+0x4ab/0x4e0 [mmapdrv]\nkmodvm-fuzz: input AAEq/w==\n==7== ERROR: libFuzzer: deadly signal\n",
			want: KernelCrash{Report: "BUG: KASAN: slab-out-of-bounds in mmapdrv_ioctl+0x4ab/0x4e0 [mmapdrv]", Input: []byte{0, 1, 0x2a, 0xff}}},
		{name: "empty input", ok: true,
			out:  "kmodvm-fuzz: kernel report: WARNING: CPU: 0 PID: 9 at x.c:1 f+0x1/0x2\nkmodvm-fuzz: input \n",
			want: KernelCrash{Report: "WARNING: CPU: 0 PID: 9 at x.c:1 f+0x1/0x2", Input: []byte{}}},
		{name: "no report", out: "#1\tINITED cov: 2\nDone 100 runs in 1 second(s)\n"},
		{name: "input without a report", out: "kmodvm-fuzz: input AAEq/w==\n"},
		{name: "report cut before its input", out: "kmodvm-fuzz: kernel report: BUG: x\n"},
		{name: "bad base64", out: "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input !!\n", err: true},
	} {
		got, ok, err := ParseCrash(c.out)
		if ok != c.ok || (err != nil) != c.err || got.Report != c.want.Report || !bytes.Equal(got.Input, c.want.Input) {
			t.Errorf("%s: %+v, %v, %v; want %+v, %v, error %v", c.name, got, ok, err, c.want, c.ok, c.err)
		}
	}
}

// A long input's line, as the agent forwards it in pieces and the host
// joins them, is read whole.
func TestParseCrashLongInput(t *testing.T) {
	in := bytes.Repeat([]byte{0xab, 0x01, 0x7f}, 4000)
	out := "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input " + strings.Repeat("qwF/", 4000) + "\n"
	got, ok, err := ParseCrash(out)
	if !ok || err != nil || !bytes.Equal(got.Input, in) {
		t.Errorf("%d bytes, %v, %v: want the %d bytes", len(got.Input), ok, err, len(in))
	}
}

func TestCrashName(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"", "crash-da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"abc", "crash-a9993e364706816aba3e25717850c26c9cd0d89d"},
	} {
		if got := CrashName([]byte(c.in)); got != c.want {
			t.Errorf("CrashName(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestHarnessCrash(t *testing.T) {
	for _, c := range []struct {
		name, out, want string
		ok              bool
	}{
		{name: "deadly signal", ok: true, want: "ERROR: libFuzzer: deadly signal",
			out: "#9\tNEW cov: 4\n==12== ERROR: libFuzzer: deadly signal\n    #0 0x4f1 in __sanitizer_print_stack_trace\n"},
		{name: "timeout", ok: true, want: "ERROR: libFuzzer: timeout after 1 seconds",
			out: "==12== ERROR: libFuzzer: timeout after 1 seconds\n"},
		{name: "the glue's abort on a kernel report",
			out: "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input AA==\n==12== ERROR: libFuzzer: deadly signal\n"},
		{name: "no crash", out: "Done 5 runs in 60 second(s)\n"},
	} {
		got, ok := HarnessCrash(c.out)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// A crash minimizer's output holds a report and input per smaller input
// that still crashed; the smallest of the same bug is the one kept, and a
// smaller input of another bug is not.
func TestSmallest(t *testing.T) {
	const key = "DEDUP_TOKEN: kmodvm BUG: KASAN: slab-out-of-bounds in f+0x4ab/0x4e0 [m]\n"
	crash := func(report, key, input string) string {
		return "kmodvm-fuzz: kernel report: " + report + "\n" + key + "kmodvm-fuzz: input " + input + "\n==9== ERROR: libFuzzer: deadly signal\n"
	}
	orig := KernelCrash{Report: "BUG: KASAN: slab-out-of-bounds in f+0x4ab/0x4e0 [m]", Key: strings.TrimPrefix(strings.TrimSpace(key), KeyLine), Input: []byte("12345678")}
	for _, c := range []struct {
		name, out string
		want      string
		ok        bool
	}{
		{name: "two steps", ok: true, want: "123",
			out: "CRASH_MIN: minimizing crash input\n" + crash(orig.Report, key, "MTIzNDU=") + "CRASH_MIN: ...\n" + crash(orig.Report, key, "MTIz")},
		{name: "another bug, smaller", ok: true, want: "12345",
			out: crash(orig.Report, key, "MTIzNDU=") + crash("WARNING: CPU: 0 PID: 7 at x.c:1 g+0x1/0x2", "DEDUP_TOKEN: kmodvm WARNING: CPU: N PID: N at x.c:N g+0x1/0x2\n", "MQ==")},
		{name: "not reproduced", want: "12345678", out: "ERROR: the input /fuzz/replay/x did not crash\n"},
		{name: "no smaller", want: "12345678", out: "CRASH_MIN: failed to minimize beyond /tmp/m (8 bytes), exiting\n"},
	} {
		cs, err := ParseCrashes(c.out, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, ok := Smallest(orig, cs)
		if ok != c.ok || string(got.Input) != c.want {
			t.Errorf("%s: %q, %v; want %q, %v", c.name, got.Input, ok, c.want, c.ok)
		}
	}
}
