package debianprov

import (
	"errors"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// TestResolveRiscv64Before612 pins the error of a series Debian never
// built for riscv64: it says why, and 6.12 still resolves.
func TestResolveRiscv64Before612(t *testing.T) {
	builds := []kernel.Build{{ABI: "6.12.117+deb13-riscv64", Series: "6.12", Flavour: "riscv64", Arch: "riscv64"}}
	for _, c := range []struct {
		sel  string
		want string // the error's text, "" for none
	}{
		{"6.1", "Debian has no riscv64 kernel before 6.12"},
		{"5.10", "Debian has no riscv64 kernel before 6.12"},
		{"6.12", ""},
		{"7.3", "nearest available: 6.12"},
	} {
		sel, err := kernel.ParseSelector(c.sel)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Resolve(builds, sel.WithArch("riscv64"))
		switch {
		case c.want == "" && (err != nil || b.ABI != builds[0].ABI):
			t.Errorf("%s = %s, %v; want %s", c.sel, b.ABI, err, builds[0].ABI)
		case c.want != "" && (!errors.Is(err, kernel.ErrNotFound) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want ErrNotFound saying %q", c.sel, err, c.want)
		}
	}
}
