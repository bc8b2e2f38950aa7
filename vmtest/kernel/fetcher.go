package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Fetcher is the kernel providers and the cache: it resolves selectors
// through the providers and fills the cache with what they make, each
// entry under a lock and verified by its manifest before use. It knows no
// provider but local trees; the others are added with Use.
type Fetcher struct {
	Cache *Cache
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Offline forbids network access: only cached kernels are used.
	Offline bool
	// KDir is the tree to build modules against for local kernels given
	// as an image file (a kernel build tree is its own).
	KDir string

	mu sync.Mutex
	ps []Provider // added with Use
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		fmt.Fprintf(f.Log, format+"\n", args...)
	}
}

// Tailor returns s made to provide modules, if its provider can; s itself
// otherwise, or when modules is empty.
func (f *Fetcher) Tailor(s *Spec, modules []string) (*Spec, error) {
	p, err := f.Provider(s.Provider)
	if err != nil {
		return nil, err
	}
	t, ok := p.(Tailor)
	if !ok || len(modules) == 0 {
		return s, nil
	}
	return t.Tailor(s, modules)
}

// Tailorable reports whether s's provider makes kernels to order.
func (f *Fetcher) Tailorable(s *Spec) bool {
	p, err := f.Provider(s.Provider)
	if err != nil {
		return false
	}
	_, ok := p.(Tailor)
	return ok
}

// providers are the Fetcher's providers: the ones added with Use, in
// order, then local trees.
func (f *Fetcher) providers() []Provider {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(append([]Provider{}, f.ps...), localProvider{f})
}

// Use adds providers, consulted in the order added and before local trees.
// A provider whose older cache entries are stale (an EntryLayout) has
// them refused from then on.
func (f *Fetcher) Use(ps ...Provider) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ps = append(f.ps, ps...)
	for _, p := range ps {
		if l, ok := p.(EntryLayout); ok && f.Cache != nil {
			f.Cache.useLayout(p.Name(), l.OldestLayout())
		}
	}
}

// Provider returns the provider called name.
func (f *Fetcher) Provider(name string) (Provider, error) {
	for _, p := range f.providers() {
		if p.Name() == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no kernel provider %q: is this kmodvm too old for the cache entry?", name)
}

// ResolveSpec returns the spec of the kernel sel names.
func (f *Fetcher) ResolveSpec(ctx context.Context, sel Selector) (*Spec, error) {
	for _, p := range f.providers() {
		if p.Accepts(sel) {
			s, err := p.Resolve(ctx, sel)
			if err != nil {
				return nil, err
			}
			if s.Arch == "" {
				s.Arch = arch.Default
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %q: no provider makes such kernels", ErrSelector, sel.Raw)
}

// Fetch returns the kernel sel names, fetching or building it unless the
// cache already holds it intact.
func (f *Fetcher) Fetch(ctx context.Context, sel Selector) (*Kernel, error) {
	s, err := f.ResolveSpec(ctx, sel)
	if err != nil {
		return nil, err
	}
	return f.Get(ctx, s)
}

// Get returns the kernel s describes, from the cache when it is there and
// intact, else made by its provider under the cache's lock for its ID.
func (f *Fetcher) Get(ctx context.Context, s *Spec) (*Kernel, error) {
	p, err := f.Provider(s.Provider)
	if err != nil {
		return nil, err
	}
	if s.InPlace {
		k, err := p.Make(ctx, s, "")
		if err != nil {
			return nil, err
		}
		f.stamp(k, s)
		return k, nil
	}
	id := s.ID()
	k, err := f.Cache.Get(id)
	if err == nil {
		return k, nil
	}
	damaged := !errors.Is(err, fs.ErrNotExist)
	if s.Fallback != nil && f.Cache.missing(id) {
		return f.fallback(ctx, s, fmt.Errorf("%w: %s, as the mirror said within the last %s", ErrUnavailable, s.Name, missingFor))
	}
	if f.Offline {
		if damaged {
			return nil, fmt.Errorf("%s: the cached copy cannot be used (%v) and kmodvm is offline: run `kmodvm kernels fetch %s` with network, or `kmodvm kernels prune`", s.Name, err, s.Name)
		}
		return nil, fmt.Errorf("%s is not in the cache and kmodvm is offline: run `kmodvm kernels fetch %s` with network", s.Name, s.Name)
	}
	if damaged {
		f.logf("%s: cache entry unusable, making it again: %v", s.Name, err)
	}
	l, err := f.Cache.Lock(ctx, id)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if k, err := f.Cache.Get(id); err == nil {
		return k, nil // another process made it while we waited
	}
	if err := os.MkdirAll(f.Cache.kernelsDir(), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(f.Cache.kernelsDir(), ".tmp-"+id+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	k, err = p.Make(ctx, s, tmp)
	if errors.Is(err, ErrUnavailable) {
		f.Cache.markMissing(id)
		if s.Fallback != nil {
			return f.fallback(ctx, s, err)
		}
	}
	if err != nil {
		return nil, err
	}
	f.stamp(k, s)
	m := &manifest{Kernel: relative(*k, tmp), Spec: s}
	if err := writeManifest(tmp, m); err != nil {
		return nil, err
	}
	k, err = f.Cache.commit(tmp, m)
	if err != nil {
		return nil, err
	}
	f.logf("%s: ready in %s", s.Name, time.Since(start).Round(100*time.Millisecond))
	return k, nil
}

// stamp copies a spec's identity into the kernel made from it.
func (f *Fetcher) stamp(k *Kernel, s *Spec) {
	k.ID, k.Provider, k.Arch, k.Variant, k.Note = s.ID(), s.Provider, s.Arch, s.Variant, s.Note
	if k.Series == "" {
		k.Series = s.Series
	}
	if k.Flavour == "" {
		k.Flavour = s.Flavour
	}
	if k.Name == "" {
		k.Name = s.Name
	}
}
