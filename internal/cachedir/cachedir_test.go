package cachedir

import (
	"path/filepath"
	"testing"
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
