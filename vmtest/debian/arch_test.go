package debian

import (
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// The index holds every architecture's Packages lists once, the host's
// first: its linux-kbuild is the one every build takes.
func TestArchitectures(t *testing.T) {
	got := Architectures()
	if len(got) == 0 || got[0] != arch.Host() {
		t.Fatalf("Architectures() = %q, want the host's (%s) first", got, arch.Host())
	}
	for _, a := range arch.All() {
		if n := len(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s != a.Debian })); n != 1 {
			t.Errorf("Architectures() = %q holds %s %d times, want once", got, a.Debian, n)
		}
	}
	if len(got) != len(arch.All()) {
		t.Errorf("Architectures() = %q, want one per architecture", got)
	}
}
