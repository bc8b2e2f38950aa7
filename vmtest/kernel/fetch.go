package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/debian"
)

// IndexMaxAge is how old the archive index may be before a fetch that needs
// it refreshes it.
const IndexMaxAge = 24 * time.Hour

// Fetcher resolves selectors and fills the cache.
type Fetcher struct {
	Cache *Cache
	// Archive defaults to the Debian archive with its state in the cache.
	Archive *debian.Archive
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Offline forbids network access: only cached kernels and the cached
	// archive index are used.
	Offline bool
	// KDir is the tree to build modules against for local kernels given
	// as an image file (a kernel build tree is its own).
	KDir string
	// Progress, if set, is called while a kernel's packages download, with
	// its ABI, the bytes fetched so far and the bytes it fetches in all.
	Progress func(name string, done, total int64)

	mu    sync.Mutex
	ix    *debian.Index // the index this Fetcher settled on, shared by its fetches
	extra []Provider    // added with Use
}

func (f *Fetcher) archive() *debian.Archive {
	if f.Archive == nil {
		f.Archive = &debian.Archive{Dir: f.Cache.AptDir()}
	}
	return f.Archive
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		fmt.Fprintf(f.Log, format+"\n", args...)
	}
}

// Index returns the archive index: the cached one while it is fresh (or
// when offline, or when the network fails and a stale one exists).
func (f *Fetcher) Index(ctx context.Context) (*debian.Index, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ix != nil {
		return f.ix, nil
	}
	ix, err := f.loadIndex(ctx)
	if err == nil {
		f.ix = ix
	}
	return ix, err
}

func (f *Fetcher) loadIndex(ctx context.Context) (*debian.Index, error) {
	a := f.archive()
	cached, cerr := a.CachedIndex()
	if cerr == nil && (f.Offline || a.Current(cached, IndexMaxAge)) {
		return cached, nil
	}
	if f.Offline {
		return nil, fmt.Errorf("offline and no cached Debian index (%v): run `kmodvm kernels fetch` once with network", cerr)
	}
	f.logf("updating the Debian archive index")
	ix, err := a.Update(ctx)
	if err != nil {
		if cerr == nil {
			f.logf("archive update failed, using the index of %s: %v", cached.Updated.Format(time.RFC3339), err)
			return cached, nil
		}
		return nil, err
	}
	return ix, nil
}

// Resolve returns the Debian build a selector names, without fetching it
// (for a variant, the stock build it follows).
func (f *Fetcher) Resolve(ctx context.Context, sel Selector) (Build, error) {
	ix, err := f.Index(ctx)
	if err != nil {
		return Build{}, err
	}
	b, err := Resolve(Builds(ix), sel)
	if errors.Is(err, ErrNotFound) && !f.Offline && time.Since(ix.Updated) > time.Hour {
		// The archive may have moved on since the cached index was made.
		if ix, uerr := f.archive().Update(ctx); uerr == nil {
			f.mu.Lock()
			f.ix = ix
			f.mu.Unlock()
			return Resolve(Builds(ix), sel)
		}
	}
	return b, err
}

// debianProvider makes Debian's packaged kernels.
type debianProvider struct{ f *Fetcher }

func (debianProvider) Name() string { return ProviderDebian }

func (debianProvider) Accepts(sel Selector) bool { return sel.Kind != Path && sel.Variant == "" }

func (d debianProvider) Resolve(ctx context.Context, sel Selector) (*Spec, error) {
	b, err := d.f.Resolve(ctx, sel)
	if err != nil {
		return nil, err
	}
	s := DebianSpec(b)
	if sel.Kind == Series || sel.Kind == Latest {
		// The series' older builds, should the mirror lack this one's files.
		ix, err := d.f.Index(ctx)
		if err != nil {
			return nil, err
		}
		last := s
		for _, o := range Older(Builds(ix), b, maxFallbacks) {
			last.Fallback = DebianSpec(o)
			last = last.Fallback
		}
	}
	return s, nil
}

// maxFallbacks bounds how many older builds of a series are tried when the
// mirror serves none of the newer ones.
const maxFallbacks = 6

// arch is the build's architecture, Arch or the default.
func (b Build) arch() string {
	if b.Arch == "" {
		return DefaultArch
	}
	return b.Arch
}

// DebianSpec is the spec of a Debian build.
func DebianSpec(b Build) *Spec {
	s := &Spec{Provider: ProviderDebian, Arch: b.arch(), Name: b.ABI, ABI: b.ABI, Series: b.Series,
		Flavour: b.Flavour, Version: b.Version, Packages: b.Packages, Debian: &b}
	for _, p := range b.Packages {
		s.Inputs = append(s.Inputs, p.String()+" "+p.SHA256)
	}
	return s
}

func (d debianProvider) Make(ctx context.Context, s *Spec, dir string) (*Kernel, error) {
	f, b := d.f, s.Debian
	if b == nil {
		return nil, fmt.Errorf("%s: spec without its Debian build", s.Name)
	}
	f.logf("%s: downloading %d packages", b.ABI, len(b.Packages))
	var k *Kernel
	var perr error
	err := f.WithPackages(ctx, s.Name, b.Packages, func(debs []string) error {
		f.logf("%s: unpacking", b.ABI)
		k, perr = prepareDebian(ctx, dir, *b, debs)
		return nil
	})
	switch {
	case errors.Is(err, debian.ErrMissing):
		return nil, Unavailable(fmt.Errorf("fetch %s: %w", b.ABI, err))
	case err != nil:
		return nil, fmt.Errorf("fetch %s: %w", b.ABI, err)
	case perr != nil:
		return nil, fmt.Errorf("prepare %s: %w", b.ABI, perr)
	}
	return k, nil
}

// WithPackages fetches verified packages into the cache (reporting
// progress under name) and calls use with their paths. The packages are
// kept only while a fetch uses them: once use returns, the last fetch to
// finish removes every package, since what a kernel needs is kept
// unpacked in its entry (the 6.1 kernel's packages are 81 MB, its
// sources' 140 MB). Another fetch of the same package downloads it again.
func (f *Fetcher) WithPackages(ctx context.Context, name string, pkgs []debian.Package, use func(debs []string) error) error {
	shared, err := f.Cache.rlock(ctx, "debs")
	if err != nil {
		return err
	}
	a := f.archive()
	if f.Progress != nil {
		// A copy, because the Fetcher's archive is shared by concurrent
		// fetches of other kernels.
		ac := *a
		ac.Progress = func(done, total int64) { f.Progress(name, done, total) }
		a = &ac
	}
	debs, err := a.Download(ctx, f.Cache.DebsDir(), pkgs)
	if err == nil {
		err = use(debs)
	}
	shared.Unlock()
	f.Cache.DropPackages()
	return err
}

// FetchBuild makes sure Debian build b is in the cache and returns it.
func (f *Fetcher) FetchBuild(ctx context.Context, b Build) (*Kernel, error) {
	return f.Get(ctx, DebianSpec(b))
}

// prepareDebian unpacks a build's packages into dir and makes the result
// usable: modules.dep, relocatable headers, a PVH vmlinux.
func prepareDebian(ctx context.Context, dir string, b Build, debs []string) (*Kernel, error) {
	root := filepath.Join(dir, "root")
	for _, deb := range debs {
		if err := debian.Extract(ctx, deb, root); err != nil {
			return nil, err
		}
	}
	os.RemoveAll(filepath.Join(root, "usr", "share"))
	k := &Kernel{
		Name: b.ABI, ABI: b.ABI, Series: b.Series, Flavour: b.Flavour,
		Version: b.Version, Origin: "debian " + b.Suite, Dir: dir, Arch: b.arch(),
	}
	if err := layoutDebian(ctx, root, k); err != nil {
		return nil, err
	}
	return k, nil
}
