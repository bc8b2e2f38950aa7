package debianprov

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// An i386 build is named by its flavours, 686-pae for a plain selector
// and 686 for 6.1-686, not by "i386": its image and headers are i386's,
// the common headers all's, and linux-kbuild the host's (amd64), as for
// arm64. The headers' dependency on linux-compiler-gcc-12-x86 is no
// kernel package and not taken. The fixtures are excerpts of the real
// bookworm-security Packages lists, amd64 and i386.
func TestResolveI386FromRealPackagesIndex(t *testing.T) {
	ix := &debian.Index{}
	for _, name := range []string{"Packages.bookworm-security", "Packages.bookworm-security.i386"} {
		f, err := os.Open(filepath.Join("..", "..", "debian", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := debian.ParsePackages(f, "bookworm-security", debian.IsKernelPackage)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ix.Packages = append(ix.Packages, pkgs...)
	}
	builds := Builds(ix)
	for _, c := range []struct{ sel, flavour string }{{"6.1", "686-pae"}, {"6.1-686", "686"}} {
		sel, err := kernel.ParseSelector(c.sel)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Resolve(builds, sel.WithArch("i386"))
		if err != nil {
			t.Fatalf("%s: %v", c.sel, err)
		}
		abi := "6.1.0-57-" + c.flavour
		if b.ABI != abi || b.Arch != "i386" || b.Flavour != c.flavour || Spec(b).Arch != "i386" {
			t.Errorf("%s on i386 = %s (arch %q, flavour %s)", c.sel, b.ABI, b.Arch, b.Flavour)
		}
		var got []string
		for _, p := range b.Packages {
			got = append(got, p.String()+":"+p.Arch)
		}
		want := "linux-headers-" + abi + "=6.1.192-3:i386 linux-headers-6.1.0-57-common=6.1.192-3:all " +
			"linux-image-" + abi + "-unsigned=6.1.192-3:i386 linux-kbuild-6.1=6.1.192-3:amd64"
		if strings.Join(got, " ") != want {
			t.Errorf("%s packages:\n got %s\nwant %s", c.sel, strings.Join(got, " "), want)
		}
	}
}
