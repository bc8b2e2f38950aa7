package harness

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/dmesg"
)

// kmsgTexts are the records' texts of the kernel logs vmtest/dmesg's tests
// read, as /dev/kmsg gave them ("prio,seq,usec,flags;text").
func kmsgTexts(t *testing.T) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join("..", "dmesg", "testdata", "report", "*", "*.kmsg"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no kernel logs under vmtest/dmesg/testdata/report (%v)", err)
	}
	var texts []string
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, text, ok := strings.Cut(line, ";"); ok && !strings.HasPrefix(line, " ") {
				texts = append(texts, text)
			}
		}
	}
	return texts
}

// withKmsgGlue compiles the host program main (a C file) with the glue's
// kmsg.c and returns the binary.
func withKmsgGlue(t *testing.T, main string) string {
	t.Helper()
	needClang(t)
	dir := t.TempDir()
	src := glueSources(t, dir, "kmsg.c")[0]
	bin := filepath.Join(dir, strings.TrimSuffix(filepath.Base(main), ".c"))
	if out, err := exec.Command(DefaultClang, "-O1", "-o", bin, main, src).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return bin
}

// TestReportStartsAgreeWithDmesg holds the glue's list of reports' first
// lines (glue/kmsg.c) against vmtest/dmesg's patterns on real kernel logs:
// every bug report dmesg knows, but kmemleak's, ends the harness, and no
// line that dmesg does not take for a report's start does.
func TestReportStartsAgreeWithDmesg(t *testing.T) {
	bin := withKmsgGlue(t, "testdata/reportstart.c")
	texts := kmsgTexts(t)
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(strings.Join(texts, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	reports := 0
	for i := 0; sc.Scan(); i++ {
		glueSays := sc.Text() == "1"
		kind, _, ok := dmesg.Header([]byte(texts[i]))
		want := ok && kind.IsBug() && kind != dmesg.KindMemoryLeak
		if want {
			reports++
		}
		if glueSays != want {
			t.Errorf("%q: the glue says %v, vmtest/dmesg %v (%q)", texts[i], glueSays, want, kind)
		}
	}
	if reports < 20 {
		t.Errorf("%d reports' first lines in the logs: want the logs of every kind", reports)
	}
}

// TestReportKey: the key of a report's first line, which libFuzzer's crash
// minimizer compares (its DEDUP_TOKEN), is one for two runs of one bug
// (CPU, PID, line numbers, a task's pid vary) and keeps what tells bugs
// apart (the function and its offset, the module, the kind).
func TestReportKey(t *testing.T) {
	bin := withKmsgGlue(t, "testdata/reportkey.c")
	cases := []struct{ line, want string }{
		{"BUG: KASAN: slab-out-of-bounds in mmapdrv_ioctl+0x4ab/0x4e0 [mmapdrv]", "BUG: KASAN: slab-out-of-bounds in mmapdrv_ioctl+0x4ab/0x4e0 [mmapdrv]"},
		{"WARNING: CPU: 0 PID: 57 at drivers/x/mmapdrv.c:172 mmapdrv_ioctl+0x40/0x80 [mmapdrv]", "WARNING: CPU: N PID: N at drivers/x/mmapdrv.c:N mmapdrv_ioctl+0x40/0x80 [mmapdrv]"},
		{"INFO: task harness:123 blocked for more than 120 seconds.", "INFO: task harness:N blocked for more than N seconds."},
		{"UBSAN: array-index-out-of-bounds in mmapdrv2.c:40:9", "UBSAN: array-index-out-of-bounds in mmapdrv2.c:N:N"},
	}
	var in strings.Builder
	for _, c := range cases {
		in.WriteString(c.line + "\n")
	}
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for i, c := range cases {
		if i >= len(got) || got[i] != c.want {
			t.Errorf("%q: key %q, want %q", c.line, got, c.want)
		}
	}
}
