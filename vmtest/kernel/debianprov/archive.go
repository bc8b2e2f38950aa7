package debianprov

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// IndexMaxAge is how old the archive index may be before a fetch that needs
// it refreshes it.
const IndexMaxAge = 24 * time.Hour

// debsLock is the lock that fetches hold shared while they use downloaded
// packages.
const debsLock = "debs"

func (p *Provider) archive() *debian.Archive {
	if p.Archive == nil {
		p.Archive = &debian.Archive{Dir: p.Cache.Layout().Apt()}
	}
	return p.Archive
}

// Index returns the archive index: the cached one while it is fresh (or
// when offline, or when the network fails and a stale one exists).
func (p *Provider) Index(ctx context.Context) (*debian.Index, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ix != nil {
		return p.ix, nil
	}
	ix, err := p.loadIndex(ctx)
	if err == nil {
		p.ix = ix
	}
	return ix, err
}

func (p *Provider) loadIndex(ctx context.Context) (*debian.Index, error) {
	a := p.archive()
	cached, cerr := a.CachedIndex()
	if cerr == nil && (p.Offline || a.Current(cached, IndexMaxAge)) {
		return cached, nil
	}
	if p.Offline {
		return nil, fmt.Errorf("offline and no cached Debian index (%v): run `kmodvm kernels fetch` once with network", cerr)
	}
	p.logf("updating the Debian archive index")
	ix, err := a.Update(ctx)
	if err != nil {
		if cerr == nil {
			p.logf("archive update failed, using the index of %s: %v", cached.Updated.Format(time.RFC3339), err)
			return cached, nil
		}
		return nil, err
	}
	for _, note := range []string{ix.Expired, ix.Missing} {
		if note != "" {
			p.logf("%s; the kernels of those suites are left out", note)
		}
	}
	return ix, nil
}

// ResolveBuild returns the Debian build a selector names, without
// fetching it.
func (p *Provider) ResolveBuild(ctx context.Context, sel kernel.Selector) (kernel.Build, error) {
	ix, err := p.Index(ctx)
	if err != nil {
		return kernel.Build{}, err
	}
	b, err := Resolve(Builds(ix), sel)
	if errors.Is(err, kernel.ErrNotFound) && !p.Offline && time.Since(ix.Updated) > time.Hour {
		// The archive may have moved on since the cached index was made.
		if ix, uerr := p.archive().Update(ctx); uerr == nil {
			p.mu.Lock()
			p.ix = ix
			p.mu.Unlock()
			return Resolve(Builds(ix), sel)
		}
	}
	if errors.Is(err, kernel.ErrNotFound) && ix.Expired != "" {
		err = fmt.Errorf("%w (%s; the kernels of those suites are left out)", err, ix.Expired)
	}
	return b, err
}

// WithPackages fetches verified packages into the cache (reporting
// progress under name) and calls use with their paths. The packages are
// kept only while a fetch uses them: once use returns, the last fetch to
// finish removes every package, since what a kernel needs is kept
// unpacked in its entry (the 6.1 kernel's packages are 81 MB, its
// sources' 140 MB). Another fetch of the same package downloads it again.
func (p *Provider) WithPackages(ctx context.Context, name string, pkgs []debian.Package, use func(debs []string) error) error {
	shared, err := p.Cache.RLock(ctx, debsLock)
	if err != nil {
		return err
	}
	a := p.archive()
	if p.Progress != nil {
		// A copy, because the provider's archive is shared by concurrent
		// fetches of other kernels.
		ac := *a
		ac.Progress = func(done, total int64) { p.Progress(name, done, total) }
		a = &ac
	}
	debs, err := a.Download(ctx, p.Cache.Layout().Debs(), pkgs)
	if err == nil {
		err = use(debs)
	}
	shared.Unlock()
	DropPackages(p.Cache)
	return err
}

// DropPackages removes c's downloaded packages unless a fetch (holding the
// packages' lock shared) is using some, and returns the bytes freed. What
// a kernel needs is unpacked in its entry; a cache of an earlier kmodvm
// kept every package.
func DropPackages(c *kernel.Cache) int64 {
	l, err := c.LockFile(debsLock)
	if err != nil {
		return 0
	}
	if ok, err := l.TryLock(); err != nil || !ok {
		return 0
	}
	defer l.Unlock()
	debs, _ := filepath.Glob(filepath.Join(c.Layout().Debs(), "*.deb"))
	var freed int64
	for _, d := range debs {
		if fi, err := os.Stat(d); err == nil && os.Remove(d) == nil {
			freed += fi.Size()
		}
	}
	return freed
}
