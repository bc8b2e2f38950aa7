package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/debian"
)

func TestParseSelector(t *testing.T) {
	cases := []struct {
		in   string
		want Selector
	}{
		{"6.1", Selector{Kind: Series, Series: "6.1", Flavour: "amd64"}},
		{"7.3-rt", Selector{Kind: Series, Series: "7.3", Flavour: "rt-amd64"}},
		{"6.12-cloud", Selector{Kind: Series, Series: "6.12", Flavour: "cloud-amd64"}},
		{"latest", Selector{Kind: Latest, Flavour: "amd64"}},
		{"latest-rt", Selector{Kind: Latest, Flavour: "rt-amd64"}},
		{"6.1.0-57-amd64", Selector{Kind: ABI, Series: "6.1", ABI: "6.1.0-57-amd64", Flavour: "amd64"}},
		{"6.1.0-0.deb11.52-rt-amd64", Selector{Kind: ABI, Series: "6.1", ABI: "6.1.0-0.deb11.52-rt-amd64", Flavour: "rt-amd64"}},
		{"6.12.113+deb12-amd64", Selector{Kind: ABI, Series: "6.12", ABI: "6.12.113+deb12-amd64", Flavour: "amd64"}},
		{"6.12.113+deb12", Selector{Kind: Release, Series: "6.12", Release: "6.12.113+deb12", Flavour: "amd64"}},
		{"7.3.4", Selector{Kind: Release, Series: "7.3", Release: "7.3.4", Flavour: "amd64"}},
		{"7.3.4-cloud", Selector{Kind: Release, Series: "7.3", Release: "7.3.4", Flavour: "cloud-amd64"}},
		{"6.1-debug", Selector{Kind: Series, Series: "6.1", Flavour: "amd64", Variant: "debug"}},
		{"7.3-kcsan", Selector{Kind: Series, Series: "7.3", Flavour: "amd64", Variant: "kcsan"}},
		{"latest-debug", Selector{Kind: Latest, Flavour: "amd64", Variant: "debug"}},
	}
	for _, c := range cases {
		got, err := ParseSelector(c.in)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", c.in, err)
			continue
		}
		c.want.Raw = c.in
		if got != c.want {
			t.Errorf("ParseSelector(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseSelectorPaths(t *testing.T) {
	dir := t.TempDir()
	for _, in := range []string{dir, "./build", "../linux", "~/linux"} {
		got, err := ParseSelector(in)
		if err != nil || got.Kind != Path || !filepath.IsAbs(got.Path) {
			t.Errorf("ParseSelector(%q) = %+v, %v; want an absolute Path", in, got, err)
		}
	}
}

func TestParseSelectorRejectsNonsense(t *testing.T) {
	for _, in := range []string{"", "six", "6", "6.1-arm", "6.1.0-57", "6.1.x"} {
		if _, err := ParseSelector(in); !errors.Is(err, ErrSelector) {
			t.Errorf("ParseSelector(%q) error = %v, want ErrSelector", in, err)
		}
	}
}

// fixtureBuilds reads the real Packages excerpts in ../debian/testdata.
func fixtureBuilds(t *testing.T) []Build {
	t.Helper()
	ix := &debian.Index{}
	for _, suite := range []string{"bookworm", "bookworm-security", "bullseye-security", "trixie-backports"} {
		f, err := os.Open(filepath.Join("..", "debian", "testdata", "Packages."+suite))
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
		sel, err := ParseSelector(c.sel)
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
	sel, _ := ParseSelector("7.2")
	_, err := Resolve(fixtureBuilds(t), sel)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve(7.2) = %v, want ErrNotFound", err)
	}
}

func TestResolveUnknownNamesTheNearestSeries(t *testing.T) {
	sel, _ := ParseSelector("6.2")
	_, err := Resolve(fixtureBuilds(t), sel)
	if !errors.Is(err, ErrNotFound) {
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

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"6.1", "7.3-rt", "latest-cloud", "6.12.113+deb12", "6.1.0-0.deb11.52-rt-amd64", "./linux", "~/k", "6.1.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		switch sel.Kind {
		case Series, Release, ABI:
			if sel.Series == "" || sel.Flavour == "" {
				t.Errorf("%q: %+v lacks a series or flavour", s, sel)
			}
		case Path:
			if !filepath.IsAbs(sel.Path) {
				t.Errorf("%q: path %q not absolute", s, sel.Path)
			}
		case Latest:
		default:
			t.Errorf("%q: no kind", s)
		}
	})
}

func TestSelectorWithArch(t *testing.T) {
	cases := []struct{ in, arch, flavour string }{
		{"6.1", "arm64", "arm64"},
		{"7.3-rt", "arm64", "rt-arm64"},
		{"6.12-cloud", "amd64", "cloud-amd64"},
		{"latest", "arm64", "arm64"},
		{"6.12.113", "arm64", "arm64"},
		// An ABI names its architecture itself.
		{"6.1.0-57-amd64", "arm64", "amd64"},
		{"6.1.0-57-arm64", "amd64", "arm64"},
	}
	for _, c := range cases {
		sel, err := ParseSelector(c.in)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", c.in, err)
		}
		got := sel.WithArch(c.arch)
		if got.Flavour != c.flavour || got.Arch() != FlavourArch(c.flavour) {
			t.Errorf("%s for %s: flavour %s (arch %s), want %s", c.in, c.arch, got.Flavour, got.Arch(), c.flavour)
		}
	}
}
