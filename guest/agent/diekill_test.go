package agent

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// consoleStamp is the time a console line starts with.
var consoleStamp = regexp.MustCompile(`^\[\s*\d+\.\d+\] `)

// noteFixture feeds a kernel log fixture of vmtest/dmesg (a /dev/kmsg
// capture, .kmsg, or a console's, .console) to f, record by record.
func noteFixture(t *testing.T, f *faults, name string) {
	t.Helper()
	b, err := os.ReadFile("../../vmtest/dmesg/testdata/report/" + name)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(name, ".kmsg") {
			rec, ok := parseKmsg([]byte(line + "\n"))
			if !ok {
				continue
			}
			line = rec.Text
		}
		f.note(consoleStamp.ReplaceAllString(line, ""))
	}
}

// The thread a die() report kills is the one it names after its mark, on
// every kernel's format; reports the task lives through (KASAN's, a
// sleep in atomic context, a refcount WARN) kill none.
func TestFaultsNoteTheThreadDieKilled(t *testing.T) {
	for _, c := range []struct {
		fixture string
		tid     int // 0: none killed
	}{
		{"6.1/gpf.kmsg", 83},
		{"6.1/oops.kmsg", 83},
		{"7.3/gpf.kmsg", 94},
		{"7.3/oops.kmsg", 93},
		{"7.3/bug.kmsg", 94},
		{"6.1-arm64/faults.console", 103}, // three die()s: the last
		{"7.3/atomic.kmsg", 0},
		{"7.3/refcount.kmsg", 0},
		{"6.1-debug/kasan-back-to-back.console", 0},
	} {
		var f faults
		noteFixture(t, &f, c.fixture)
		k := f.killed.Load()
		switch {
		case c.tid == 0 && k != nil:
			t.Errorf("%s: thread %d killed, want none", c.fixture, k.tid)
		case c.tid != 0 && (k == nil || k.tid != c.tid):
			t.Errorf("%s: killed %+v, want thread %d", c.fixture, k, c.tid)
		case c.tid != 0 && (!f.killedSince(c.tid, 0) || f.killedSince(c.tid, k.n) || f.killedSince(c.tid+1, 0)):
			t.Errorf("%s: killedSince wrong for %+v", c.fixture, k)
		}
	}
}
