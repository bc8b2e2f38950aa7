// Package srcbuild builds kernels from Debian's patched sources
// (linux-source-<series>) with kmodvm's debug configurations, for the
// "-debug" (KASAN, kmemleak, lockdep, UBSAN, ...) and "-kcsan" selectors.
//
// It is a kernel.Provider: a source-built kernel is resolved, cached and
// verified like a packaged one, and the rest of kmodvm does not know the
// difference. The configuration is a minimal QEMU guest (configs/guest.config
// on allnoconfig) with named fragments merged on top, each option with the
// reason it is there; every requested option is checked in the final
// .config, so a kernel is never silently weaker than asked.
package srcbuild

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// ProviderName names source-built kernels in IDs and reports.
const ProviderName = "source"

// recipe changes whenever the way a kernel is built changes (targets,
// trimming, layout), so that older entries are built again.
const recipe = "srcbuild-1"

//go:embed configs/*.config
var configs embed.FS

// variant is one configuration kmodvm builds.
type variant struct {
	// fragments are merged onto allnoconfig in order (configs/<name>.config).
	fragments []string
}

// variants are the configurations behind the selectors' suffixes. KCSAN
// cannot be combined with KASAN (Kconfig: KCSAN depends on !KASAN).
var variants = map[string]variant{
	"debug": {
		fragments: []string{"guest", "kasan", "kmemleak", "lockdep", "ubsan", "hardening", "faults", "kcov", "kunit-gcov", "debuginfo", "fast-boot", "modules"},
	},
	"kcsan": {
		fragments: []string{"guest", "kcsan", "kmemleak", "lockdep", "ubsan", "hardening", "faults", "kunit-gcov", "debuginfo", "fast-boot", "modules"},
	},
}

// compilers maps the Debian release a stock kernel comes from to the
// compiler it was built with: the debug kernel uses the same.
var compilers = map[string]string{
	"bullseye": "gcc-10",
	"bookworm": "gcc-12",
	"trixie":   "gcc-14",
	"forky":    "gcc-14",
	"sid":      "gcc-14",
}

// compilerFor returns the compiler of a stock build from suite ("trixie-backports").
func compilerFor(b kernel.Build) string {
	rel, _, _ := strings.Cut(b.Suite, "-")
	if strings.Contains(b.ABI, "+deb13") || strings.Contains(b.Version, "~bpo13") {
		rel = "trixie"
	}
	if cc, ok := compilers[rel]; ok {
		return cc
	}
	return "gcc-14"
}

// Archive is what a source build needs of the archive its sources come
// from: the stock kernel a source kernel follows (its version and
// compiler), the archive's index (the source package) and downloads.
// debianprov.Provider is one.
type Archive interface {
	// Resolve returns the spec of the stock kernel sel names; its Debian
	// build is set.
	Resolve(ctx context.Context, sel kernel.Selector) (*kernel.Spec, error)
	Index(ctx context.Context) (*debian.Index, error)
	WithPackages(ctx context.Context, name string, pkgs []debian.Package, use func(debs []string) error) error
}

// Kernels gets a kernel a spec describes, through the cache: the
// kernel.Fetcher the provider is registered with.
type Kernels interface {
	Get(ctx context.Context, s *kernel.Spec) (*kernel.Kernel, error)
}

// Provider builds kernels from source. Register it with kernel.Fetcher.Use.
type Provider struct {
	// Archive resolves the stock kernel a source kernel follows and
	// downloads the source package.
	Archive Archive
	// Kernels gets the stock kernel a kernel built to order follows, whose
	// config says how to build the in-kernel modules it is to have.
	Kernels Kernels
	// Toolchains provides the compiler (host or a Debian userland).
	Toolchains *toolchain.Set
	// Jobs is make's -j; 0 means one per CPU.
	Jobs int
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Progress, if set, is called as the build compiles, with the kernel's
	// name and the compile units done and expected.
	Progress func(name string, done, total int)
}

// Name implements kernel.Provider.
func (p *Provider) Name() string { return ProviderName }

// Accepts implements kernel.Provider: series and latest with a variant.
func (p *Provider) Accepts(sel kernel.Selector) bool {
	return sel.Variant != "" && (sel.Kind == kernel.Series || sel.Kind == kernel.Latest)
}

// Resolve implements kernel.Provider: the source package of the version the
// stock kernel of the series is, or the nearest one the archive has.
func (p *Provider) Resolve(ctx context.Context, sel kernel.Selector) (*kernel.Spec, error) {
	v, ok := variants[sel.Variant]
	if !ok {
		return nil, fmt.Errorf("%w: %q: no variant %q (have debug, kcsan)", kernel.ErrSelector, sel.Raw, sel.Variant)
	}
	if a := sel.Arch(); a != arch.Default {
		// The guest fragment is x86's (PVH, q35's ACPI, 8250 UARTs).
		return nil, &kernel.LackError{Short: fmt.Sprintf("kmodvm builds -%s kernels for %s only", sel.Variant, arch.Default),
			Detail: fmt.Sprintf("%q: kmodvm builds -%s kernels for %s only, not %s", sel.Raw, sel.Variant, arch.Default, a)}
	}
	stockSel := sel
	stockSel.Variant, stockSel.Flavour = "", arch.Must(arch.Default).Flavour
	stockSpec, err := p.Archive.Resolve(ctx, stockSel)
	if err != nil {
		return nil, err
	}
	if stockSpec.Debian == nil {
		return nil, fmt.Errorf("%s: the stock kernel %s names no Debian build", sel.Raw, stockSpec.Name)
	}
	// The stock kernel is that build, the one the source follows, not an
	// older one the mirror would serve instead.
	stock := *stockSpec.Debian
	stockSpec.Fallback = nil
	ix, err := p.Archive.Index(ctx)
	if err != nil {
		return nil, err
	}
	src, note, err := sourceFor(ix, stock)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", kernel.ErrNotFound, sel.Raw, err)
	}
	up := debian.Upstream(src.Version)
	name := up + "-" + sel.Variant
	s := &kernel.Spec{
		Provider: ProviderName, Arch: arch.Default, Name: name, ABI: name,
		Series: stock.Series, Variant: sel.Variant, Version: src.Version,
		Packages: []debian.Package{src}, Debian: &stock, Stock: stockSpec, Note: note,
	}
	s.Inputs = append(s.Inputs, recipe, "source "+src.String()+" "+src.SHA256, "compiler "+compilerFor(stock))
	s.Config = map[string]string{}
	for _, f := range v.fragments {
		s.Inputs = append(s.Inputs, "config "+f+" "+digest("configs/"+f+".config"))
		b, err := configs.ReadFile("configs/" + f + ".config")
		if err != nil {
			return nil, err
		}
		_, strict := splitOptional(string(b))
		for k, v := range kernel.ParseConfig(strict) {
			s.Config[k] = v
		}
	}
	for _, f := range fixups {
		s.Inputs = append(s.Inputs, "fixup "+f.name)
	}
	return s, nil
}

// sourceFor picks linux-source-<series> of the stock build's upstream
// version, or else the nearest version of the series, saying so.
func sourceFor(ix *debian.Index, stock kernel.Build) (debian.Package, string, error) {
	cands := ix.Lookup("linux-source-" + stock.Series)
	if len(cands) == 0 {
		return debian.Package{}, "", fmt.Errorf("the archive has no linux-source-%s", stock.Series)
	}
	for _, c := range cands {
		if debian.Upstream(c.Version) == stock.Upstream {
			return c, "", nil
		}
	}
	best := cands[0] // newest first
	for _, c := range cands {
		if debian.CompareVersions(debian.Upstream(c.Version), stock.Upstream) <= 0 {
			best = c
			break
		}
	}
	return best, fmt.Sprintf("built from linux-source-%s %s: the stock kernel's %s source is not in the archive", stock.Series, best.Version, stock.Upstream), nil
}

// digest hashes an embedded file, so that editing a fragment makes a new
// kernel.
func digest(name string) string {
	b, err := configs.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("srcbuild: embedded %s: %v", name, err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// fragmentNames returns the variant's fragment file names.
func (v variant) fragmentFiles() []string {
	var out []string
	for _, f := range v.fragments {
		out = append(out, path.Join("configs", f+".config"))
	}
	return out
}

// Tailor implements kernel.Tailor: the kernel also builds, as modules, the
// in-kernel modules named (and what their Kconfig options depend on, as
// the stock kernel sets it).
func (p *Provider) Tailor(s *kernel.Spec, modules []string) (*kernel.Spec, error) {
	t := *s
	t.Modules = append([]string{}, modules...)
	sort.Strings(t.Modules)
	t.Inputs = append(append([]string{}, s.Inputs...), "modules "+strings.Join(t.Modules, ","))
	return &t, nil
}
