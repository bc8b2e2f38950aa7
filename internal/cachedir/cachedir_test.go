package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/internal/privdir"
)

// The folders are where caches made by earlier kmodvms keep their files:
// renaming one would orphan them.
func TestLayoutNamesTheFoldersOnDisk(t *testing.T) {
	l := Layout{Root: "/c"}
	for _, c := range []struct{ got, want string }{
		{l.Apt(), "apt"},
		{l.Debs(), "debs/sha256"},
		{l.Kernels(), "kernels"},
		{l.Kernel("k1"), "kernels/k1"},
		{l.ByABI(), "kernels/by-abi"},
		{l.Missing(), "kernels/.missing"},
		{l.DebugInfo(), "debuginfo"},
		{l.Toolchains(), "toolchains"},
		{l.Builds(), "builds"},
		{l.Layers(), "initramfs"},
		{l.Snapshots(), "snapshots"},
		{l.Locks(), "locks"},
		{l.Lock("debs"), "locks/debs.lock"},
	} {
		if want := filepath.Join("/c", c.want); c.got != want {
			t.Errorf("got %s, want %s", c.got, want)
		}
	}
}

func TestDefaultIsTheEnvironmentsFirst(t *testing.T) {
	t.Setenv(Env, "/somewhere")
	if d := Default(); d != "/somewhere" {
		t.Errorf("Default() = %s with %s set", d, Env)
	}
	t.Setenv(Env, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d := Default(); d != "/xdg/kmodvm" {
		t.Errorf("Default() = %s, want /xdg/kmodvm", d)
	}
}

// A user without a home gets a cache under the temporary directory, never
// one another user made there first.
func TestDefaultWithoutAHomeIsNeverAnotherUsersDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(Env, "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	squatted := filepath.Join(tmp, fmt.Sprintf("kmodvm-cache-%d", os.Geteuid()))
	if err := os.Symlink(t.TempDir(), squatted); err != nil {
		t.Fatal(err)
	}
	got := Default()
	if filepath.Dir(got) != tmp || got == squatted || privdir.Check(got) != nil {
		t.Errorf("Default() = %s, want a private directory in %s other than %s", got, tmp, squatted)
	}
}
