package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Kind says how a Selector names a kernel.
type Kind int

// Selector kinds.
const (
	// Series names the newest build of a series: "6.1", "7.3-rt".
	Series Kind = iota + 1
	// Latest names the newest build of any series.
	Latest
	// Release names one upstream release: "6.12.113", "6.12.113+deb12".
	Release
	// ABI names one build exactly: "6.1.0-57-amd64".
	ABI
	// Path names a local kernel build tree or image.
	Path
)

// Flavours returns Debian's kernel flavours kmodvm runs: each
// architecture's (arch.Arch.Flavours).
func Flavours() []string {
	var out []string
	for _, a := range arch.All() {
		out = append(out, a.Flavours...)
	}
	return out
}

// FlavourArch is the architecture a Debian flavour is built for: the one
// whose Flavours hold it, else (a flavour made for an architecture kmodvm
// lacks, which looking it up then reports) its last dash-separated word.
func FlavourArch(flavour string) string {
	if a := arch.ByFlavour(flavour); a != nil {
		return a.Name
	}
	return flavour[strings.LastIndexByte(flavour, '-')+1:]
}

// defaultFlavour is the flavour a selector without one means.
func defaultFlavour() string { return arch.Must(arch.Default).Flavour }

// suffixes are the selector suffixes of every architecture's flavours
// ("rt", "cloud", "686").
func suffixes() []string {
	var out []string
	for _, a := range arch.All() {
		for s := range a.Suffixes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// anyOf is a regexp group matching any of words, the longest first.
func anyOf(words []string) string {
	sorted := slices.Clone(words)
	slices.SortStableFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	for i, w := range sorted {
		sorted[i] = regexp.QuoteMeta(w)
	}
	return "(?:" + strings.Join(sorted, "|") + ")"
}

// Selector is a parsed kernel name.
type Selector struct {
	Raw     string
	Kind    Kind
	Series  string // "6.1" for Series, Release and ABI
	Release string // "6.12.113+deb12" for Release
	ABI     string // for ABI
	Flavour string // Debian's, one of Flavours
	Path    string // for Path
	// Variant is a debug configuration built from source for a Series or
	// Latest selector: "debug" (KASAN, kmemleak, lockdep, ...) or "kcsan".
	Variant string
}

// Variants are the kernels kmodvm builds from source, by selector suffix.
func Variants() []string { return []string{"debug", "kcsan"} }

// ErrSelector marks a malformed selector.
var ErrSelector = errors.New("bad kernel selector")

var (
	// Kernels built from source: 6.1-debug, latest-kcsan.
	variantRe = regexp.MustCompile(`^(latest|[0-9]+\.[0-9]+)-(debug|kcsan)$`)
	seriesRe  = regexp.MustCompile(`^([0-9]+\.[0-9]+)(?:-(` + anyOf(suffixes()) + `))?$`)
	releaseRe = regexp.MustCompile(`^([0-9]+\.[0-9]+)\.[0-9]+(?:\+deb[0-9]+)?(?:-(` + anyOf(suffixes()) + `))?$`)
	latestRe  = regexp.MustCompile(`^latest(?:-(` + anyOf(suffixes()) + `))?$`)
	// Debian ABIs: 6.1.0-57-amd64, 6.1.0-0.deb11.52-rt-amd64,
	// 6.12.113+deb12-cloud-amd64, for any of Flavours.
	abiRe = regexp.MustCompile(`^([0-9]+\.[0-9]+)(?:\.0-[0-9]+(?:\.deb[0-9]+\.[0-9]+)?|\.[0-9]+\+deb[0-9]+)-(` + anyOf(Flavours()) + `)$`)
)

// ParseSelector parses a kernel selector. A string containing a path
// separator, or naming an existing file or directory, is a Path.
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	sel := Selector{Raw: s, Flavour: defaultFlavour()}
	switch {
	case s == "":
		return sel, fmt.Errorf("%w: empty", ErrSelector)
	case variantRe.MatchString(s):
		m := variantRe.FindStringSubmatch(s)
		sel.Variant = m[2]
		if m[1] == "latest" {
			sel.Kind = Latest
		} else {
			sel.Kind, sel.Series = Series, m[1]
		}
		return sel, nil
	case latestRe.MatchString(s):
		sel.Kind = Latest
		sel.Flavour = flavourOf(latestRe.FindStringSubmatch(s)[1])
		return sel, nil
	case strings.ContainsRune(s, '/') || strings.HasPrefix(s, "~") || isLocal(s):
		sel.Kind = Path
		p, err := expandPath(s)
		if err != nil {
			return sel, err
		}
		sel.Path = p
		return sel, nil
	}
	if m := seriesRe.FindStringSubmatch(s); m != nil {
		sel.Kind, sel.Series, sel.Flavour = Series, m[1], flavourOf(m[2])
		return sel, nil
	}
	if m := abiRe.FindStringSubmatch(s); m != nil {
		sel.Kind, sel.Series, sel.ABI, sel.Flavour = ABI, m[1], s, m[2]
		return sel, nil
	}
	if m := releaseRe.FindStringSubmatch(s); m != nil {
		rel := s
		if m[2] != "" {
			rel = strings.TrimSuffix(s, "-"+m[2])
		}
		sel.Kind, sel.Series, sel.Release, sel.Flavour = Release, m[1], rel, flavourOf(m[2])
		return sel, nil
	}
	return sel, fmt.Errorf("%w: %q: want a series (6.1, 7.3-rt), a debug build (6.1-debug, 6.1-kcsan), a release (6.12.113), "+
		"an ABI (6.1.0-57-amd64), latest, or a path to a kernel build", ErrSelector, s)
}

// Arch is the architecture of the kernel the selector names: its flavour's.
func (s Selector) Arch() string { return FlavourArch(s.Flavour) }

// WithArch returns the selector naming the same kernel built for name:
// "6.1" is 6.1.0-N-amd64 by default, 6.1.0-N-arm64 with arm64 and
// 6.1.0-N-686-pae with i386, "6.1-rt" the rt flavour of each. An ABI
// names its architecture itself and a path is what it is: both are
// returned as they are. A variant the architecture lacks ("cloud" on
// i386) names a flavour no build has, "<suffix>-<Debian>", which
// resolving then reports.
func (s Selector) WithArch(name string) Selector {
	if s.Kind == ABI || s.Kind == Path || name == "" {
		return s
	}
	to, err := arch.Lookup(name)
	if err != nil {
		s.Flavour = name
		return s
	}
	suffix := ""
	if from := arch.ByFlavour(s.Flavour); from != nil {
		suffix = from.SuffixOf(s.Flavour)
	}
	f, ok := to.FlavourFor(suffix)
	if !ok {
		f = suffix + "-" + to.Debian
	}
	s.Flavour = f
	return s
}

// flavourOf is the flavour a selector's suffix ("rt", "cloud", or none)
// names: the default architecture's, else the first architecture's that
// has it ("686" is i386's).
func flavourOf(short string) string {
	if f, ok := arch.Must(arch.Default).FlavourFor(short); ok {
		return f
	}
	for _, a := range arch.All() {
		if f, ok := a.FlavourFor(short); ok {
			return f
		}
	}
	return defaultFlavour()
}

func isLocal(s string) bool {
	if strings.HasPrefix(s, ".") {
		return true
	}
	_, err := os.Stat(s)
	return err == nil
}

func expandPath(s string) (string, error) {
	if strings.HasPrefix(s, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		s = filepath.Join(home, s[2:])
	}
	return filepath.Abs(s)
}

// String returns the selector as the user wrote it.
func (s Selector) String() string { return s.Raw }

// DefaultSelectors returns the matrix kmodvm runs when a run names no
// kernels: the newest build of each series Debian supports. A new slice
// each time, so no caller can change another's default.
func DefaultSelectors() []string { return []string{"5.10", "6.1", "6.12", "7.3"} }
