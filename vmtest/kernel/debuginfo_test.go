package kernel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// publisher is a provider that publishes debug information apart from its
// kernels, and counts how often it is asked to.
type publisher struct {
	countingProvider
	asked int
}

func (*publisher) Name() string { return "publisher" }

func (p *publisher) MakeDebugInfo(_ context.Context, k *Kernel, dir string) (*DebugInfo, error) {
	p.asked++
	if err := os.WriteFile(filepath.Join(dir, "vmlinux"), []byte("ELF with DWARF of "+k.Name), 0o644); err != nil {
		return nil, err
	}
	return &DebugInfo{Vmlinux: "vmlinux", Package: "its-dbg=1"}, nil
}

// A provider's debug information is made once, kept beside the kernel's
// entry and used from there, offline too.
func TestDebugInfoIsMadeOnceAndKeptBesideTheEntry(t *testing.T) {
	p := &publisher{}
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir()}}
	f.Use(p)
	k := &Kernel{Name: "6.1.0-57-amd64", Provider: p.Name(), ID: "a"}
	d, err := f.DebugInfo(t.Context(), k, func(string) bool { return false })
	if err != nil || d.Vmlinux != filepath.Join(f.Cache.debugInfoDir("a"), "vmlinux") || d.Package != "its-dbg=1" {
		t.Fatalf("got %+v, %v", d, err)
	}
	off := &Fetcher{Cache: f.Cache, Offline: true}
	off.Use(p)
	if again, err := off.DebugInfo(t.Context(), k, func(string) bool { return false }); err != nil || *again != *d || p.asked != 1 {
		t.Errorf("offline: %+v, %v; asked %d times", again, err, p.asked)
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
	f.Use(&publisher{})
	k := &Kernel{Name: "6.1.0-57-amd64", ABI: "6.1.0-57-amd64", Provider: "publisher", ID: "a"}
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
