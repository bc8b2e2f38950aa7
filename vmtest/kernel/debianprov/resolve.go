package debianprov

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// imageRoots are the package name patterns that define a build, as
// prefix+ABI+suffix.
var imageRoots = []struct{ prefix, suffix string }{
	{"linux-binary-", ""},
	{"linux-image-", "-unsigned"},
	// Architectures Debian does not sign for Secure Boot (armhf) have
	// no -unsigned package: the image is the build's root. Where an
	// -unsigned one exists, that is the root, not the signed image.
	{"linux-image-", ""},
}

// Builds lists every complete build the index offers, of every
// architecture, newest first.
func Builds(ix *debian.Index) []kernel.Build {
	var out []kernel.Build
	host := arch.Host()
	for _, a := range debian.Architectures() {
		out = append(out, archBuilds(ix, a, host)...)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := debian.CompareVersions(out[i].Version, out[j].Version); c != 0 {
			return c > 0
		}
		return out[i].ABI < out[j].ABI
	})
	return out
}

// archPackage reports whether p belongs in a build for arch: the kernel's
// own packages are arch's (or "all"), but linux-kbuild's programs run on
// the build host, so a cross build takes the host's.
func archPackage(p debian.Package, arch, host string) bool {
	want := arch
	if strings.HasPrefix(p.Name, "linux-kbuild-") {
		want = host
	}
	return p.Arch == want || p.Arch == "all" || p.Arch == "" && arch == host
}

// archBuilds lists the complete builds for one architecture on a host
// of Debian architecture host.
func archBuilds(ix *debian.Index, a, host string) []kernel.Build {
	byName := map[string][]debian.Package{}
	for _, p := range ix.Packages {
		if archPackage(p, a, host) {
			byName[p.Name] = append(byName[p.Name], p)
		}
	}
	for _, ps := range byName {
		sort.SliceStable(ps, func(i, j int) bool { return debian.CompareVersions(ps[i].Version, ps[j].Version) > 0 })
	}
	// The roots in imageRoots' order, each over the names sorted: an ABI
	// with more than one root (7.x's linux-binary-<abi> and the
	// linux-image-<abi> that depends on it) is always the first's, not
	// whichever the map gave first, which made the same selector name
	// two builds of other IDs from one run to the next.
	names := slices.Sorted(maps.Keys(byName))
	seen := map[string]bool{}
	var out []kernel.Build
	for _, r := range imageRoots {
		for _, name := range names {
			versions := byName[name]
			if !strings.HasPrefix(name, r.prefix) || !strings.HasSuffix(name, r.suffix) {
				continue
			}
			abi := strings.TrimSuffix(strings.TrimPrefix(name, r.prefix), r.suffix)
			series, flavour, ok := kernel.SplitABI(abi)
			if !ok || seen[abi] || kernel.FlavourArch(flavour) != a {
				continue
			}
			if _, signed := byName[r.prefix+abi+"-unsigned"]; signed && r.suffix == "" {
				continue
			}
			if b, ok := assemble(byName, versions[0], abi); ok {
				seen[abi] = true
				b.Series, b.Flavour = series, flavour
				if a != arch.Default {
					b.Arch = a
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// assemble collects the packages of the build rooted at root: the image,
// modules and headers packages of abi, and the kernel packages they depend
// on, each at the root's version where the archive has it.
func assemble(byName map[string][]debian.Package, root debian.Package, abi string) (kernel.Build, bool) {
	b := kernel.Build{ABI: abi, Version: root.Version, Suite: root.Suite, Upstream: debian.Upstream(root.Version)}
	picked := map[string]bool{}
	queue := []debian.Dependency{{Name: root.Name, Relation: "=", Version: root.Version}}
	for _, extra := range []string{"linux-modules-" + abi, "linux-headers-" + abi} {
		if _, ok := byName[extra]; ok {
			queue = append(queue, debian.Dependency{Name: extra})
		}
	}
	if _, ok := byName["linux-headers-"+abi]; !ok {
		return b, false
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if picked[d.Name] || !debian.IsKernelPackage(d.Name) {
			continue
		}
		p, ok := pick(byName[d.Name], d, root.Version)
		if !ok {
			return b, false
		}
		picked[d.Name] = true
		b.Packages = append(b.Packages, p)
		queue = append(queue, debian.ParseDepends(p.Depends)...)
	}
	sort.Slice(b.Packages, func(i, j int) bool { return b.Packages[i].Name < b.Packages[j].Name })
	return b, true
}

// pick chooses the version of a package that satisfies d: the build's own
// version when offered, else the newest that fits.
func pick(versions []debian.Package, d debian.Dependency, want string) (debian.Package, bool) {
	for _, p := range versions {
		if p.Version == want && d.Satisfies(p.Version) {
			return p, true
		}
	}
	for _, p := range versions {
		if d.Satisfies(p.Version) {
			return p, true
		}
	}
	return debian.Package{}, false
}

// Resolve returns the build sel names: for a series or latest, the newest
// matching build.
func Resolve(builds []kernel.Build, sel kernel.Selector) (kernel.Build, error) {
	for _, b := range builds {
		if b.Flavour != sel.Flavour {
			continue
		}
		switch sel.Kind {
		case kernel.Latest:
			return b, nil
		case kernel.Series:
			if b.Series == sel.Series {
				return b, nil
			}
		case kernel.ABI:
			if b.ABI == sel.ABI {
				return b, nil
			}
		case kernel.Release:
			if b.Upstream == sel.Release || strings.HasPrefix(b.ABI, sel.Release+"-") {
				return b, nil
			}
		case kernel.Path:
			return kernel.Build{}, fmt.Errorf("%s: a path is not a Debian kernel", sel)
		}
	}
	if a, err := arch.Lookup(sel.Arch()); err == nil && a.FirstSeries != "" && sel.Kind == kernel.Series &&
		seriesNumber(sel.Series) < seriesNumber(a.FirstSeries) {
		return kernel.Build{}, &kernel.LackError{
			Short:  fmt.Sprintf("Debian has no %s kernel before %s", a.Name, a.FirstSeries),
			Detail: fmt.Sprintf("%q: Debian has no %s kernel before %s (%s)", sel.Raw, a.Name, a.FirstSeries, a.FirstReason)}
	}
	return kernel.Build{}, &kernel.LackError{Short: lack(builds, sel),
		Detail: fmt.Sprintf("%q matches no Debian kernel; nearest available: %s", sel.Raw, strings.Join(Nearest(builds, sel, 4), ", "))}
}

// lack says in a line that sel's architecture has no kernel sel names,
// and which series of sel's flavour it has instead: the newest, when sel
// is newer than all, the oldest when older, else all of them.
func lack(builds []kernel.Build, sel kernel.Selector) string {
	msg := fmt.Sprintf("Debian has no %s kernel for %s", sel.Arch(), sel.Raw)
	var have []string
	for _, b := range builds {
		if b.Flavour == sel.Flavour && !slices.Contains(have, b.Series) {
			have = append(have, b.Series)
		}
	}
	if len(have) == 0 || sel.Kind != kernel.Series {
		return msg
	}
	sort.Slice(have, func(i, j int) bool { return seriesNumber(have[i]) > seriesNumber(have[j]) })
	// A flavour's suffix ("-64k") goes with each series named.
	suffix := strings.TrimPrefix(sel.Raw, sel.Series)
	for i := range have {
		have[i] += suffix
	}
	switch want := seriesNumber(sel.Series); {
	case want > seriesNumber(have[0]):
		return msg + "; newest " + have[0]
	case want < seriesNumber(have[len(have)-1]):
		return msg + "; oldest " + have[len(have)-1]
	}
	return msg + "; it has " + strings.Join(have, ", ")
}

// Older returns up to n builds of b's series, flavour and architecture
// older than b, newest first.
func Older(builds []kernel.Build, b kernel.Build, n int) []kernel.Build {
	var out []kernel.Build
	for _, o := range builds {
		if len(out) == n {
			break
		}
		if o.Series == b.Series && o.Flavour == b.Flavour && o.Arch == b.Arch && o.ABI != b.ABI &&
			debian.CompareVersions(o.Version, b.Version) < 0 {
			out = append(out, o)
		}
	}
	return out
}

// Nearest suggests series close to sel's, as "series (abi)", newest first
// among equals.
func Nearest(builds []kernel.Build, sel kernel.Selector, n int) []string {
	best := map[string]kernel.Build{}
	for _, b := range builds {
		if b.Flavour != sel.Flavour {
			continue
		}
		if _, ok := best[b.Series]; !ok {
			best[b.Series] = b
		}
	}
	target := seriesNumber(sel.Series)
	var series []string
	for s := range best {
		series = append(series, s)
	}
	sort.Slice(series, func(i, j int) bool {
		di, dj := math.Abs(seriesNumber(series[i])-target), math.Abs(seriesNumber(series[j])-target)
		if di != dj {
			return di < dj
		}
		return seriesNumber(series[i]) > seriesNumber(series[j])
	})
	if len(series) > n {
		series = series[:n]
	}
	out := make([]string, len(series))
	for i, s := range series {
		out[i] = fmt.Sprintf("%s (%s)", s, best[s].ABI)
	}
	return out
}

// seriesNumber maps "6.12" to 6012 so that series compare numerically.
func seriesNumber(s string) float64 {
	maj, min, _ := strings.Cut(s, ".")
	a, _ := strconv.Atoi(maj)
	b, _ := strconv.Atoi(min)
	return float64(a*1000 + b)
}
