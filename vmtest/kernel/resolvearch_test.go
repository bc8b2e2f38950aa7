package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/debian"
)

// An arm64 build is its architecture's image and headers, the common
// headers (all), and the host's linux-kbuild: its fixdep and modpost run on
// the amd64 host, so the arm64 linux-kbuild-6.1 of the same version, in the
// same index, is not the one. The fixtures are excerpts of the real
// bookworm-security Packages lists, amd64 and arm64.
func TestResolveArm64FromRealPackagesIndex(t *testing.T) {
	ix := &debian.Index{}
	for _, name := range []string{"Packages.bookworm-security", "Packages.bookworm-security.arm64"} {
		f, err := os.Open(filepath.Join("..", "debian", "testdata", name))
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
	sel, err := ParseSelector("6.1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Resolve(builds, sel.WithArch("arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if b.ABI != "6.1.0-57-arm64" || b.Arch != "arm64" || b.Flavour != "arm64" {
		t.Errorf("6.1 on arm64 = %s (arch %q, flavour %s)", b.ABI, b.Arch, b.Flavour)
	}
	var got []string
	for _, p := range b.Packages {
		got = append(got, p.String()+":"+p.Arch)
	}
	want := "linux-headers-6.1.0-57-arm64=6.1.192-3:arm64 linux-headers-6.1.0-57-common=6.1.192-3:all " +
		"linux-image-6.1.0-57-arm64-unsigned=6.1.192-3:arm64 linux-kbuild-6.1=6.1.192-3:amd64"
	if strings.Join(got, " ") != want {
		t.Errorf("packages:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if s := DebianSpec(b); s.Arch != "arm64" {
		t.Errorf("spec arch %q", s.Arch)
	}
	// amd64's 6.1 is what it was, and its spec (its cache key) says amd64.
	a, err := Resolve(builds, sel)
	if err != nil || a.ABI != "6.1.0-57-amd64" || DebianSpec(a).Arch != "amd64" {
		t.Errorf("6.1 on amd64 = %s (%v)", a.ABI, err)
	}
}
