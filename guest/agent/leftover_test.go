package agent

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

// registered lists this machine's registrations sorted, without the
// processes' /proc entries.
func TestRegistered(t *testing.T) {
	got := registered()
	if !slices.IsSorted(got) || !slices.Contains(got, "/dev/null") || !slices.Contains(got, "/proc/self") {
		t.Fatalf("registered() = %d paths, sorted %v, want /dev/null and /proc/self among them", len(got), slices.IsSorted(got))
	}
	for _, p := range got {
		if rest, ok := strings.CutPrefix(p, "/proc/"); ok && isPID(rest) {
			t.Errorf("a process's entry: %s", p)
		}
	}
	for name, want := range map[string]bool{"1": true, "4242": true, "": false, "self": false, "12a": false} {
		if isPID(name) != want {
			t.Errorf("isPID(%q) = %v", name, !want)
		}
	}
}

// The registrations are listed after a failure in the module's init or
// exit, or one with no stack; not after one in the loader before the
// init, nor in the unload's free_module after the exit (6.1-debug's
// reports of a sweep of mmapdrv and sweepmod).
func TestModuleCodeRan(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		op, log string
		want    bool
	}{
		{event.OpLoad, read("../../vmtest/dmesg/testdata/failslab-6.1.txt"), true},
		{event.OpLoad, read("testdata/failures/load-loader-6.1.txt"), false},
		{event.OpUnload, read("testdata/failures/unload-free_module-6.1.txt"), false},
		{event.OpLoad, "mmapdrv: something\n", true},
		{event.OpUnload, "", true},
	} {
		if got := moduleCodeRan(c.op, c.log); got != c.want {
			t.Errorf("%s, log starting %.60q: %v, want %v", c.op, c.log, got, c.want)
		}
	}
}
