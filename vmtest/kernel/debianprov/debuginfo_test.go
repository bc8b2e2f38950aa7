package debianprov

import (
	"errors"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// The -dbg package must be of the kernel's exact build: another version's
// DWARF would name the wrong lines.
func TestDebugPackageMustMatchTheKernelsVersion(t *testing.T) {
	f := &Provider{Cache: &kernel.Cache{Dir: t.TempDir()}}
	f.ix = &debian.Index{Packages: []debian.Package{
		{Name: "linux-image-6.1.0-57-amd64-dbg", Version: "6.1.192-3"},
		{Name: "linux-image-6.1.0-56-amd64-dbg", Version: "6.1.192-2"},
	}}
	k := &kernel.Kernel{Name: "6.1.0-57-amd64", ABI: "6.1.0-57-amd64", Version: "6.1.192-3", Provider: Name, ID: "a"}
	if p, err := f.debugPackage(t.Context(), k); err != nil || p.Version != "6.1.192-3" {
		t.Errorf("got %v, %v", p, err)
	}
	k.Version = "6.1.192-4"
	if _, err := f.debugPackage(t.Context(), k); !errors.Is(err, kernel.ErrNoDebugInfo) || !strings.Contains(err.Error(), "only at 6.1.192-3") {
		t.Errorf("got %v", err)
	}
	k.ABI = "6.1.0-99-amd64"
	if _, err := f.debugPackage(t.Context(), k); !errors.Is(err, kernel.ErrNoDebugInfo) || !strings.Contains(err.Error(), "has no linux-image-6.1.0-99-amd64-dbg") {
		t.Errorf("got %v", err)
	}
}
