package toolchain

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A mountinfo's mount points at or below a directory, deepest first, with
// the kernel's escapes undone; a sibling that shares the prefix is not one.
func TestParseMountsUnder(t *testing.T) {
	info := `22 1 0:21 / /proc rw,relatime shared:12 - proc proc rw
98 40 0:50 / /c/tc/bullseye.tmp/proc rw,relatime - proc proc rw
99 98 0:51 / /c/tc/bullseye.tmp/proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
100 40 0:52 / /c/tc/bullseye.tmp2/proc rw - proc proc rw
101 40 0:53 / /c/tc/bullseye.tmp/a\040b rw - tmpfs tmpfs rw
`
	got, err := parseMountsUnder(bufio.NewScanner(strings.NewReader(info)), "/c/tc/bullseye.tmp")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/c/tc/bullseye.tmp/proc/sys/fs/binfmt_misc", "/c/tc/bullseye.tmp/proc", "/c/tc/bullseye.tmp/a b"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A directory a killed debootstrap left with /proc mounted in it is
// removed whole: the mount is detached first (as root, where a userland
// is made at all).
func TestScrubRemovesADirectoryWithProcMountedInIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting proc needs root, as making a userland does")
	}
	dir := filepath.Join(t.TempDir(), "userland.tmp")
	if err := os.MkdirAll(filepath.Join(dir, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("proc", filepath.Join(dir, "proc"), "proc", 0, ""); err != nil {
		t.Fatalf("mount proc: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(dir, "proc"), unix.MNT_DETACH) })
	if err := os.RemoveAll(dir); err == nil {
		if _, serr := os.Stat(dir); serr != nil {
			t.Fatal("os.RemoveAll removed a directory with a mount in it: this test no longer shows the problem")
		}
	}
	if err := scrub(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", dir, err)
	}
}
