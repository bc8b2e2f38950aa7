// Package debianprov is the provider of Debian's packaged kernels (5.10 to
// 7.x, every flavour kmodvm runs): it resolves selectors against an index
// of the kernel packages of seven Debian suites, downloads a build's
// packages through apt with a private configuration, and lays them out as
// a kernel cache entry (modules.dep, relocatable headers, a PVH vmlinux,
// only the modules a run can load). It also publishes the kernels' debug
// information (their -dbg packages) and, to source builds, the archive's
// index and downloads (see srcbuild.Archive).
//
// It is one kernel.Provider among others: the kernel package's Fetcher
// knows nothing of it, and it imports nothing above the kernel package.
package debianprov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// Name names Debian's kernels in IDs, manifests and reports.
const Name = "debian"

// Provider makes Debian's packaged kernels. Register it with
// kernel.Fetcher.Use (NewFetcher does).
type Provider struct {
	// Cache keeps the archive's state (apt/) and, while a fetch unpacks
	// them, the downloaded packages (debs/).
	Cache *kernel.Cache
	// Archive defaults to the Debian archive with its state in the cache.
	Archive *debian.Archive
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Offline forbids network access: only the cached archive index is
	// used, and nothing is downloaded.
	Offline bool
	// Progress, if set, is called while a kernel's packages download, with
	// its ABI, the bytes fetched so far and the bytes it fetches in all.
	Progress func(name string, done, total int64)

	mu sync.Mutex
	ix *debian.Index // the index this provider settled on, shared by its fetches
}

// NewFetcher returns a fetcher over c whose providers are Debian's archive
// and local trees, offline or not, logging to log.
func NewFetcher(c *kernel.Cache, offline bool, log io.Writer) *kernel.Fetcher {
	f := &kernel.Fetcher{Cache: c, Log: log, Offline: offline}
	f.Use(&Provider{Cache: c, Log: log, Offline: offline})
	return f
}

// Of returns the Debian provider f uses, or nil when it uses none.
func Of(f *kernel.Fetcher) *Provider {
	p, _ := f.Provider(Name)
	d, _ := p.(*Provider)
	return d
}

// Name implements kernel.Provider.
func (*Provider) Name() string { return Name }

// Accepts implements kernel.Provider: every selector but a path and a
// variant (a kernel built from source).
func (*Provider) Accepts(sel kernel.Selector) bool {
	return sel.Kind != kernel.Path && sel.Variant == ""
}

// OldestLayout implements kernel.EntryLayout. Layout 3 keeps of a Debian
// kernel only the modules a run can load and no bzImage beside the PVH
// vmlinux (7.3: 233 MB became 149 MB): older entries are fetched again.
func (*Provider) OldestLayout() int { return 3 }

// Resolve implements kernel.Provider. For a series (or latest) the spec
// carries the series' older builds as its fallbacks, should the mirror
// lack this one's files.
func (p *Provider) Resolve(ctx context.Context, sel kernel.Selector) (*kernel.Spec, error) {
	b, err := p.ResolveBuild(ctx, sel)
	if err != nil {
		return nil, err
	}
	s := Spec(b)
	if sel.Kind == kernel.Series || sel.Kind == kernel.Latest {
		ix, err := p.Index(ctx)
		if err != nil {
			return nil, err
		}
		last := s
		for _, o := range Older(Builds(ix), b, maxFallbacks) {
			last.Fallback = Spec(o)
			last = last.Fallback
		}
	}
	return s, nil
}

// maxFallbacks bounds how many older builds of a series are tried when the
// mirror serves none of the newer ones.
const maxFallbacks = 6

// buildArch is the build's architecture, Arch or the default.
func buildArch(b kernel.Build) string {
	if b.Arch == "" {
		return arch.Default
	}
	return b.Arch
}

// Spec is the spec of a Debian build.
func Spec(b kernel.Build) *kernel.Spec {
	s := &kernel.Spec{Provider: Name, Arch: buildArch(b), Name: b.ABI, ABI: b.ABI, Series: b.Series,
		Flavour: b.Flavour, Version: b.Version, Packages: b.Packages, Debian: &b}
	for _, p := range b.Packages {
		s.Inputs = append(s.Inputs, p.String()+" "+p.SHA256)
	}
	return s
}

// Make implements kernel.Provider: the build's packages, downloaded and
// unpacked into dir. Packages the mirror lists but does not serve make an
// error wrapping kernel.ErrUnavailable.
func (p *Provider) Make(ctx context.Context, s *kernel.Spec, dir string) (*kernel.Kernel, error) {
	b := s.Debian
	if b == nil {
		return nil, fmt.Errorf("%s: spec without its Debian build", s.Name)
	}
	p.logf("%s: downloading %d packages", b.ABI, len(b.Packages))
	var k *kernel.Kernel
	var perr error
	err := p.WithPackages(ctx, s.Name, b.Packages, func(debs []string) error {
		p.logf("%s: unpacking", b.ABI)
		k, perr = prepareDebian(ctx, dir, *b, debs)
		return nil
	})
	switch {
	case errors.Is(err, debian.ErrMissing):
		return nil, kernel.Unavailable(fmt.Errorf("fetch %s: %w", b.ABI, err))
	case err != nil:
		return nil, fmt.Errorf("fetch %s: %w", b.ABI, err)
	case perr != nil:
		return nil, fmt.Errorf("prepare %s: %w", b.ABI, perr)
	}
	return k, nil
}

// prepareDebian unpacks a build's packages into dir and makes the result
// usable: modules.dep, relocatable headers, a PVH vmlinux.
func prepareDebian(ctx context.Context, dir string, b kernel.Build, debs []string) (*kernel.Kernel, error) {
	root := filepath.Join(dir, "root")
	for _, deb := range debs {
		if err := debian.Extract(ctx, deb, root); err != nil {
			return nil, err
		}
	}
	os.RemoveAll(filepath.Join(root, "usr", "share"))
	k := &kernel.Kernel{
		Name: b.ABI, ABI: b.ABI, Series: b.Series, Flavour: b.Flavour,
		Version: b.Version, Origin: "debian " + b.Suite, Dir: dir, Arch: buildArch(b),
	}
	if err := layoutDebian(ctx, root, k); err != nil {
		return nil, err
	}
	return k, nil
}

func (p *Provider) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, format+"\n", args...)
	}
}
