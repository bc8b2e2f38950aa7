package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	Progress func(abi string, done, total int64)

	mu sync.Mutex
	ix *debian.Index // the index this Fetcher settled on, shared by its fetches
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

// Resolve returns the Debian build a selector names, without fetching it.
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

// Fetch returns the kernel sel names, downloading and preparing it unless
// the cache already holds it intact.
func (f *Fetcher) Fetch(ctx context.Context, sel Selector) (*Kernel, error) {
	if sel.Kind == Path {
		return f.Local(ctx, sel.Path, f.KDir)
	}
	if sel.Kind == ABI {
		if k, err := f.Cache.ByABI(sel.ABI); err == nil {
			return k, nil
		}
	}
	b, err := f.Resolve(ctx, sel)
	if err != nil {
		return nil, err
	}
	return f.FetchBuild(ctx, b)
}

// buildKey hashes what a Debian build is made of.
func buildKey(b Build) string {
	h := sha256.New()
	fmt.Fprintf(h, "debian v%d\n", manifestVersion)
	for _, p := range b.Packages {
		fmt.Fprintf(h, "%s %s\n", p.String(), p.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// FetchBuild makes sure build b is in the cache and returns it.
func (f *Fetcher) FetchBuild(ctx context.Context, b Build) (*Kernel, error) {
	key := buildKey(b)
	k, err := f.Cache.Get(key)
	if err == nil {
		return k, nil
	}
	damaged := !errors.Is(err, fs.ErrNotExist)
	if f.Offline {
		if damaged {
			return nil, fmt.Errorf("%s: the cached copy is damaged (%v) and kmodvm is offline: run `kmodvm kernels fetch %s` with network, or `kmodvm kernels prune`", b.ABI, err, b.ABI)
		}
		return nil, fmt.Errorf("%s is not in the cache and kmodvm is offline: run `kmodvm kernels fetch %s` with network", b.ABI, b.ABI)
	}
	if damaged {
		f.logf("%s: cache entry unusable, fetching again: %v", b.ABI, err)
	}
	l, err := f.Cache.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if k, err := f.Cache.Get(key); err == nil {
		return k, nil // another process fetched it while we waited
	}
	start := time.Now()
	f.logf("%s: downloading %d packages", b.ABI, len(b.Packages))
	a := f.archive()
	if f.Progress != nil {
		// A copy, because the Fetcher's archive is shared by concurrent
		// fetches of other kernels.
		ac := *a
		ac.Progress = func(done, total int64) { f.Progress(b.ABI, done, total) }
		a = &ac
	}
	debs, err := a.Download(ctx, f.Cache.DebsDir(), b.Packages)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", b.ABI, err)
	}
	if err := os.MkdirAll(f.Cache.kernelsDir(), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(f.Cache.kernelsDir(), ".tmp-"+key+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	f.logf("%s: unpacking", b.ABI)
	k, err = prepareDebian(ctx, tmp, b, debs)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", b.ABI, err)
	}
	k.Key = key
	m := &manifest{Kernel: relative(*k, tmp), Build: &b}
	if err := writeManifest(tmp, m); err != nil {
		return nil, err
	}
	k, err = f.Cache.commit(tmp, m)
	if err != nil {
		return nil, err
	}
	f.logf("%s: ready in %s", b.ABI, time.Since(start).Round(100*time.Millisecond))
	return k, nil
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
		Version: b.Version, Origin: "debian " + b.Suite, Dir: dir,
	}
	if err := layoutDebian(ctx, root, k); err != nil {
		return nil, err
	}
	return k, nil
}
