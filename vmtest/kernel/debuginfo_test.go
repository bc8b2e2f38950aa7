package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/debian"
)

func TestDebugInfoOfAKernelWithoutADebugPackageIsAClearError(t *testing.T) {
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir()}, Offline: true}
	k := &Kernel{Name: "mytree", Provider: ProviderLocal, ID: "x"}
	_, err := f.DebugInfo(t.Context(), k, func(string) bool { return false })
	if !errors.Is(err, ErrNoDebugInfo) || !strings.Contains(err.Error(), "CONFIG_DEBUG_INFO") {
		t.Errorf("got %v", err)
	}
	// A tree whose vmlinux has DWARF needs nothing fetched.
	k.KDir = t.TempDir()
	d, err := f.DebugInfo(t.Context(), k, func(p string) bool { return p == filepath.Join(k.KDir, "vmlinux") })
	if err != nil || d.Vmlinux != filepath.Join(k.KDir, "vmlinux") {
		t.Errorf("got %+v, %v", d, err)
	}
}

// The -dbg package must be of the kernel's exact build: another version's
// DWARF would name the wrong lines.
func TestDebugPackageMustMatchTheKernelsVersion(t *testing.T) {
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir()}}
	f.ix = &debian.Index{Packages: []debian.Package{
		{Name: "linux-image-6.1.0-57-amd64-dbg", Version: "6.1.192-3"},
		{Name: "linux-image-6.1.0-56-amd64-dbg", Version: "6.1.192-2"},
	}}
	k := &Kernel{Name: "6.1.0-57-amd64", ABI: "6.1.0-57-amd64", Version: "6.1.192-3", Provider: ProviderDebian, ID: "a"}
	if p, err := f.debugPackage(t.Context(), k); err != nil || p.Version != "6.1.192-3" {
		t.Errorf("got %v, %v", p, err)
	}
	k.Version = "6.1.192-4"
	if _, err := f.debugPackage(t.Context(), k); !errors.Is(err, ErrNoDebugInfo) || !strings.Contains(err.Error(), "only at 6.1.192-3") {
		t.Errorf("got %v", err)
	}
	k.ABI = "6.1.0-99-amd64"
	if _, err := f.debugPackage(t.Context(), k); !errors.Is(err, ErrNoDebugInfo) || !strings.Contains(err.Error(), "has no linux-image-6.1.0-99-amd64-dbg") {
		t.Errorf("got %v", err)
	}
}

// A damaged entry (a truncated vmlinux) is not used: offline it is an
// error, online it would be fetched again.
func TestDamagedDebugInfoIsNotUsed(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	dir := c.debugInfoDir("a")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "vmlinux"), []byte("ELF"), 0o644)
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"vmlinux":"vmlinux","package":"p","files":{"vmlinux":633378432}}`), 0o644)
	if _, err := readDebugInfo(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	f := &Fetcher{Cache: c, Offline: true}
	k := &Kernel{Name: "6.1.0-57-amd64", ABI: "6.1.0-57-amd64", Provider: ProviderDebian, ID: "a"}
	if _, err := f.DebugInfo(t.Context(), k, func(string) bool { return false }); !errors.Is(err, ErrNoDebugInfo) {
		t.Errorf("got %v", err)
	}
	// Removing the kernel removes its debug info.
	if err := c.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("debug info left after Remove: %v", err)
	}
}
