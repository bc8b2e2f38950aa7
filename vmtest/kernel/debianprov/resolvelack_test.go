package debianprov

import (
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// TestResolveLackIsShort pins the one line a run of several architectures
// shows for a series an architecture lacks, beside the full error a run of
// one keeps.
func TestResolveLackIsShort(t *testing.T) {
	builds := []kernel.Build{
		{ABI: "6.12.117+deb13-riscv64", Series: "6.12", Flavour: "riscv64", Arch: "riscv64"},
		{ABI: "6.1.0-57-686-pae", Series: "6.1", Flavour: "686-pae", Arch: "i386"},
		{ABI: "5.10.0-46-686-pae", Series: "5.10", Flavour: "686-pae", Arch: "i386"},
		{ABI: "7.3.4+deb13-powerpc64le", Series: "7.3", Flavour: "powerpc64le", Arch: "ppc64el"},
		{ABI: "6.1.0-57-powerpc64le", Series: "6.1", Flavour: "powerpc64le", Arch: "ppc64el"},
		{ABI: "6.12.118+deb12-powerpc64le-64k", Series: "6.12", Flavour: "powerpc64le-64k", Arch: "ppc64el"},
	}
	for _, c := range []struct {
		sel, arch, short, detail string
	}{
		{"6.12", "i386", "Debian has no i386 kernel for 6.12; newest 6.1", "nearest available: 6.1 (6.1.0-57-686-pae)"},
		{"7.3", "i386", "Debian has no i386 kernel for 7.3; newest 6.1", "nearest available"},
		{"5.10", "ppc64el", "Debian has no ppc64el kernel for 5.10; oldest 6.1", "nearest available"},
		{"6.12", "ppc64el", "Debian has no ppc64el kernel for 6.12; it has 7.3, 6.1", "nearest available"},
		{"6.1", "riscv64", "Debian has no riscv64 kernel before 6.12", "(Debian's riscv64 is official from trixie"},
		{"7.3-64k", "ppc64el", "Debian has no ppc64el kernel for 7.3-64k; newest 6.12-64k", "nearest available"},
		{"6.12-64k", "i386", "Debian has no i386 kernel for 6.12-64k", "matches no Debian kernel"},
		{"6.1.0-99-686-pae", "i386", "Debian has no i386 kernel for 6.1.0-99-686-pae", "matches no Debian kernel"},
	} {
		sel, err := kernel.ParseSelector(c.sel)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Resolve(builds, sel.WithArch(c.arch))
		short, ok := kernel.ShortLack(err)
		if !ok || short != c.short {
			t.Errorf("%s on %s: short %q (%v), want %q", c.sel, c.arch, short, ok, c.short)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "no such kernel: ") || !strings.Contains(err.Error(), c.detail) {
			t.Errorf("%s on %s: error %v, want the full message saying %q", c.sel, c.arch, err, c.detail)
		}
	}
}
