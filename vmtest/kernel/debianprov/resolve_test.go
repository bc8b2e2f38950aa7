package debianprov

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// An arm64 build is its architecture's image and headers, the common
// headers (all), and the host's linux-kbuild: its fixdep and modpost run on
// the amd64 host, so the arm64 linux-kbuild-6.1 of the same version, in the
// same index, is not the one. The fixtures are excerpts of the real
// bookworm-security Packages lists, amd64 and arm64.
func TestResolveArm64FromRealPackagesIndex(t *testing.T) {
	ix := &debian.Index{}
	for _, name := range []string{"Packages.bookworm-security", "Packages.bookworm-security.arm64"} {
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
	sel, err := kernel.ParseSelector("6.1")
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
	if s := Spec(b); s.Arch != "arm64" {
		t.Errorf("spec arch %q", s.Arch)
	}
	// amd64's 6.1 is what it was, and its spec (its cache key) says amd64.
	a, err := Resolve(builds, sel)
	if err != nil || a.ABI != "6.1.0-57-amd64" || Spec(a).Arch != "amd64" {
		t.Errorf("6.1 on amd64 = %s (%v)", a.ABI, err)
	}
}

// fixtureBuilds reads the real Packages excerpts in vmtest/debian/testdata.
func fixtureBuilds(t *testing.T) []kernel.Build {
	t.Helper()
	ix := &debian.Index{}
	for _, suite := range []string{"bookworm", "bookworm-security", "bullseye-security", "trixie-backports"} {
		f, err := os.Open(filepath.Join("..", "..", "debian", "testdata", "Packages."+suite))
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := debian.ParsePackages(f, suite, debian.IsKernelPackage)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ix.Packages = append(ix.Packages, pkgs...)
	}
	return Builds(ix)
}

func TestResolveFromRealPackagesIndex(t *testing.T) {
	builds := fixtureBuilds(t)
	cases := []struct {
		sel, abi, version string
		packages          []string
	}{
		{"6.1", "6.1.0-57-amd64", "6.1.192-3", []string{
			"linux-headers-6.1.0-57-amd64=6.1.192-3", "linux-headers-6.1.0-57-common=6.1.192-3",
			"linux-image-6.1.0-57-amd64-unsigned=6.1.192-3", "linux-kbuild-6.1=6.1.192-3"}},
		// An older build takes the kbuild of its own version, not the newest.
		{"6.1.0-50-amd64", "6.1.0-50-amd64", "6.1.176-1", []string{
			"linux-headers-6.1.0-50-amd64=6.1.176-1", "linux-headers-6.1.0-50-common=6.1.176-1",
			"linux-image-6.1.0-50-amd64-unsigned=6.1.176-1", "linux-kbuild-6.1=6.1.176-1"}},
		{"6.1-rt", "6.1.0-57-rt-amd64", "6.1.192-3", []string{
			"linux-headers-6.1.0-57-common-rt=6.1.192-3",
			"linux-headers-6.1.0-57-rt-amd64=6.1.192-3", "linux-image-6.1.0-57-rt-amd64-unsigned=6.1.192-3",
			"linux-kbuild-6.1=6.1.192-3"}},
		{"5.10", "5.10.0-46-amd64", "5.10.262-1", nil},
		{"7.3", "7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", []string{
			"linux-base-7.3.4+deb13-amd64=7.3.4-1~bpo13+1", "linux-binary-7.3.4+deb13-amd64=7.3.4-1~bpo13+1",
			"linux-headers-7.3.4+deb13-amd64=7.3.4-1~bpo13+1", "linux-headers-7.3.4+deb13-common=7.3.4-1~bpo13+1",
			"linux-kbuild-7.3.4+deb13=7.3.4-1~bpo13+1", "linux-modules-7.3.4+deb13-amd64=7.3.4-1~bpo13+1"}},
		{"latest", "7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", nil},
		{"7.3.4", "7.3.4+deb13-amd64", "7.3.4-1~bpo13+1", nil},
	}
	for _, c := range cases {
		sel, err := kernel.ParseSelector(c.sel)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Resolve(builds, sel)
		if err != nil {
			t.Errorf("Resolve(%s): %v", c.sel, err)
			continue
		}
		if b.ABI != c.abi || b.Version != c.version {
			t.Errorf("Resolve(%s) = %s %s, want %s %s", c.sel, b.ABI, b.Version, c.abi, c.version)
		}
		if c.packages == nil {
			continue
		}
		var got []string
		for _, p := range b.Packages {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != strings.Join(c.packages, " ") {
			t.Errorf("Resolve(%s) packages:\n got %v\nwant %v", c.sel, got, c.packages)
		}
	}
}

func TestResolveSkipsBuildsWithoutHeaders(t *testing.T) {
	// The fixture has linux-binary-7.2.12+deb13-amd64 but no headers for it.
	sel, _ := kernel.ParseSelector("7.2")
	_, err := Resolve(fixtureBuilds(t), sel)
	if !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("Resolve(7.2) = %v, want ErrNotFound", err)
	}
}

func TestResolveUnknownNamesTheNearestSeries(t *testing.T) {
	sel, _ := kernel.ParseSelector("6.2")
	_, err := Resolve(fixtureBuilds(t), sel)
	if !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "nearest available: 6.1 (6.1.0-57-amd64)") {
		t.Errorf("error does not suggest 6.1 first: %s", msg)
	}
	for _, s := range []string{"5.10", "7.3"} {
		if !strings.Contains(msg, s+" (") {
			t.Errorf("error does not list %s: %s", s, msg)
		}
	}
}

func TestOlderBuildsOfTheSameSeriesFlavourAndArch(t *testing.T) {
	builds := []kernel.Build{
		{ABI: "6.1.0-57-amd64", Series: "6.1", Flavour: "amd64", Version: "6.1.192-3"},
		{ABI: "5.10.0-46-arm64", Series: "5.10", Flavour: "arm64", Arch: "arm64", Version: "5.10.262-1"},
		{ABI: "5.10.0-46-amd64", Series: "5.10", Flavour: "amd64", Version: "5.10.262-1"},
		{ABI: "5.10.0-45-arm64", Series: "5.10", Flavour: "arm64", Arch: "arm64", Version: "5.10.259-1"},
		{ABI: "5.10.0-45-cloud-arm64", Series: "5.10", Flavour: "cloud-arm64", Arch: "arm64", Version: "5.10.259-1"},
		{ABI: "5.10.0-32-arm64", Series: "5.10", Flavour: "arm64", Arch: "arm64", Version: "5.10.223-1"},
	}
	var got []string
	for _, b := range Older(builds, builds[1], 6) {
		got = append(got, b.ABI)
	}
	if strings.Join(got, " ") != "5.10.0-45-arm64 5.10.0-32-arm64" {
		t.Errorf("older than 5.10.0-46-arm64: %q", got)
	}
}

// 7.x's linux-image-<abi> is a package that depends on linux-binary-<abi>:
// both are roots of the same build, and the build is always the
// linux-binary one (imageRoots' order), whatever order the map of names
// gives: the same selector must name the same build, of the same ID, in
// every run, or an offline lookup misses the kernel fetched before.
func TestResolveRootIsTheSameEveryTime(t *testing.T) {
	sel, _ := kernel.ParseSelector("7.3")
	var first string
	for i := 0; i < 30; i++ {
		b, err := Resolve(fixtureBuilds(t), sel)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range b.Packages {
			names = append(names, p.Name)
		}
		got := strings.Join(names, " ")
		if strings.Contains(got, "linux-image-") {
			t.Fatalf("7.3's build rooted at the linux-image meta package: %s", got)
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("7.3 resolved to %s, then to %s", first, got)
		}
	}
}
