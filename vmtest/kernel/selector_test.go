package kernel

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
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
		// i386's flavours: 686-pae is its plain one, 686 a suffix of its
		// own that no other architecture has.
		{"6.1-686", Selector{Kind: Series, Series: "6.1", Flavour: "686"}},
		{"latest-686", Selector{Kind: Latest, Flavour: "686"}},
		{"6.1.0-50-686-pae", Selector{Kind: ABI, Series: "6.1", ABI: "6.1.0-50-686-pae", Flavour: "686-pae"}},
		{"6.1.0-50-686", Selector{Kind: ABI, Series: "6.1", ABI: "6.1.0-50-686", Flavour: "686"}},
		{"5.10.0-32-rt-686-pae", Selector{Kind: ABI, Series: "5.10", ABI: "5.10.0-32-rt-686-pae", Flavour: "rt-686-pae"}},
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
		{"6.1", "i386", "686-pae"},
		{"6.1-rt", "i386", "rt-686-pae"},
		{"6.1-686", "i386", "686"},
		{"6.1-rt", "amd64", "rt-amd64"},
		{"6.12-16k", "arm64", "arm64-16k"},
		{"6.12-64k", "ppc64el", "powerpc64le-64k"},
		{"6.12.118+deb12-arm64-16k", "amd64", "arm64-16k"},
		// A variant an architecture lacks names a flavour no build has,
		// of that architecture.
		{"6.12-cloud", "i386", "cloud-i386"},
		{"6.1-686", "amd64", "686-amd64"},
	}
	for _, c := range cases {
		sel, err := ParseSelector(c.in)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", c.in, err)
		}
		got := sel.WithArch(c.arch)
		if got.Flavour != c.flavour || got.Arch() != c.arch && !strings.Contains(c.in, "-"+c.flavour) {
			t.Errorf("%s for %s: flavour %s (arch %s), want %s", c.in, c.arch, got.Flavour, got.Arch(), c.flavour)
		}
	}
}
