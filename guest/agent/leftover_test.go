package agent

import (
	"slices"
	"strings"
	"testing"
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
