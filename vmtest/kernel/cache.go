package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/internal/cachedir"
)

// EnvCache overrides the cache directory.
const EnvCache = cachedir.Env

// DefaultCacheDir is $KMODVM_CACHE, else $XDG_CACHE_HOME/kmodvm, else
// ~/.cache/kmodvm.
func DefaultCacheDir() string { return cachedir.Default() }

// Cache is the on-disk store of fetched kernels. Entries are keyed by a hash
// of their inputs, written under a temporary name and renamed into place, and
// verified against their manifest before use, so a crash or a concurrent
// writer never exposes a partial entry.
type Cache struct {
	Dir string

	mu     sync.Mutex
	oldest map[string]int // by provider: EntryLayouts used with the cache
}

// ErrCorrupt means a cache entry failed verification.
var ErrCorrupt = errors.New("corrupt cache entry")

// manifestVersion changes when the entry layout changes; entries older
// than their provider's oldest layout are then fetched again. It is also
// part of every kernel's ID.
const manifestVersion = 3

// oldestLayout is the oldest entry layout still used for the kernels of
// a provider that is no EntryLayout: an entry built from source (a debug
// kernel: half an hour to make) kept version 2's layout.
const oldestLayout = 2

// useLayout makes provider's entries older than layout stale.
func (c *Cache) useLayout(provider string, layout int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oldest == nil {
		c.oldest = map[string]int{}
	}
	c.oldest[provider] = layout
}

// oldestFor is the oldest entry layout still used for provider's kernels.
func (c *Cache) oldestFor(provider string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.oldest[provider]; ok {
		return l
	}
	return oldestLayout
}

type manifest struct {
	V      int              `json:"v"`
	Kernel Kernel           `json:"kernel"` // paths relative to the entry
	Spec   *Spec            `json:"spec,omitempty"`
	Files  map[string]int64 `json:"files"` // relative path -> size
	Made   time.Time        `json:"made"`
}

// manifestHead is a manifest read for use: what comes before its files.
// The map of 14,000 sizes is most of a manifest and the digests check the
// whole file, so it is read only for an entry without digests (made by a
// kmodvm before them), from data.
type manifestHead struct {
	V      int
	Kernel Kernel
	Spec   *Spec
	data   []byte // the manifest as read
}

// decodeHead reads a manifest's fields up to its files (written after
// the kernel and its spec), or all of them in another order.
func decodeHead(data []byte) (*manifestHead, error) {
	m := &manifestHead{data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object (%v)", err)
	}
	kernel := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any = new(json.RawMessage)
		switch t {
		case "v":
			v = &m.V
		case "kernel":
			v, kernel = &m.Kernel, true
		case "spec":
			v = &m.Spec
		case "files":
			if kernel {
				return m, nil
			}
		}
		if err := dec.Decode(v); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Layout names the cache's folders.
func (c *Cache) Layout() cachedir.Layout { return cachedir.Layout{Root: c.Dir} }

func (c *Cache) kernelsDir() string         { return c.Layout().Kernels() }
func (c *Cache) entryDir(key string) string { return c.Layout().Kernel(key) }
func (c *Cache) abiLink(abi string) string  { return filepath.Join(c.Layout().ByABI(), abi) }

// LockFile is the cross-process lock called name, not taken.
func (c *Cache) LockFile(name string) (*flock.Flock, error) {
	if err := os.MkdirAll(c.Layout().Locks(), 0o755); err != nil {
		return nil, err
	}
	return flock.New(c.Layout().Lock(name)), nil
}

// Lock takes the cross-process lock called name.
func (c *Cache) Lock(ctx context.Context, name string) (*flock.Flock, error) {
	l, err := c.LockFile(name)
	if err != nil {
		return nil, err
	}
	if _, err := l.TryLockContext(ctx, 100*time.Millisecond); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return l, nil
}

// RLock takes the cross-process lock called name shared.
func (c *Cache) RLock(ctx context.Context, name string) (*flock.Flock, error) {
	l, err := c.LockFile(name)
	if err != nil {
		return nil, err
	}
	if _, err := l.TryRLockContext(ctx, 100*time.Millisecond); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return l, nil
}

// Get returns the verified entry for key: every file as its digest says
// (see checkDigests).
func (c *Cache) Get(key string) (*Kernel, error) {
	dir := c.entryDir(key)
	m, err := c.readManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := checkDigests(dir, m, false); err != nil {
		return nil, err
	}
	return absolute(m.Kernel, dir), nil
}

// ByABI returns the cached entry for a kernel release, if any.
func (c *Cache) ByABI(abi string) (*Kernel, error) {
	target, err := os.Readlink(c.abiLink(abi))
	if err != nil {
		return nil, err
	}
	return c.Get(filepath.Base(target))
}

// List returns every valid entry, by name. Corrupt entries are returned in
// bad, keyed by directory.
func (c *Cache) List() (good []*Kernel, bad map[string]error) {
	return c.list(c.Get)
}

// list is List with get checking each entry.
func (c *Cache) list(get func(key string) (*Kernel, error)) (good []*Kernel, bad map[string]error) {
	bad = map[string]error{}
	ents, _ := os.ReadDir(c.kernelsDir())
	for _, e := range ents {
		if !e.IsDir() || c.entryDir(e.Name()) == c.Layout().ByABI() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		k, err := get(e.Name())
		if err != nil {
			bad[e.Name()] = err
			continue
		}
		good = append(good, k)
	}
	sort.Slice(good, func(i, j int) bool { return good[i].Name < good[j].Name })
	return good, bad
}

// Remove deletes an entry, its debug information and the by-abi link that
// points at it.
func (c *Cache) Remove(key string) error {
	if m, err := c.readManifest(c.entryDir(key)); err == nil {
		link := c.abiLink(m.Kernel.ABI)
		if t, err := os.Readlink(link); err == nil && filepath.Base(t) == key {
			os.Remove(link)
		}
	}
	if err := removeTree(c.debugInfoDir(key)); err != nil {
		return err
	}
	return removeTree(c.entryDir(key))
}

// removeTree renames dir out of the way before deleting it, so that a
// concurrent reader sees it either whole or absent.
func removeTree(dir string) error {
	trash := filepath.Join(filepath.Dir(dir), ".trash-"+filepath.Base(dir)+fmt.Sprint(time.Now().UnixNano()))
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(trash)
}

// commit moves a fully prepared entry from tmp to its key and points the
// ABI link at it.
func (c *Cache) commit(tmp string, m *manifest) (*Kernel, error) {
	dir := c.entryDir(m.Kernel.ID)
	if err := removeTree(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	link := c.abiLink(m.Kernel.ABI)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return nil, err
	}
	tmpLink := link + ".tmp-" + fmt.Sprint(os.Getpid())
	os.Remove(tmpLink)
	if err := os.Symlink(filepath.Join("..", m.Kernel.ID), tmpLink); err != nil {
		return nil, err
	}
	if err := os.Rename(tmpLink, link); err != nil {
		return nil, err
	}
	return absolute(m.Kernel, dir), nil
}

func (c *Cache) readManifest(dir string) (*manifestHead, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); serr == nil {
				return nil, fmt.Errorf("%w: %s has no manifest (partial write?)", ErrCorrupt, dir)
			}
		}
		return nil, err
	}
	m, err := decodeHead(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/manifest.json: %v", ErrCorrupt, dir, err)
	}
	if oldest := c.oldestFor(m.Kernel.Provider); m.V > manifestVersion || m.V < oldest {
		return nil, fmt.Errorf("%w: %s: entry layout %d, made by another kmodvm (this one reads %d to %d)", ErrCorrupt, dir, m.V, oldest, manifestVersion)
	}
	return m, nil
}

// writeManifest records every regular file under dir with its size, then
// writes the manifest, then the digests of all of them: an entry without
// a manifest is partial, one without digests was made before them.
func writeManifest(dir string, m *manifest) error {
	m.V = manifestVersion
	m.Made = time.Now().UTC()
	m.Files = map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m.Files[rel] = info.Size()
		return nil
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "manifest.json"), b); err != nil {
		return err
	}
	return recordDigests(dir, m.Files)
}

// verifyFiles checks that every file of the manifest is there with its size.
// An entry holds some 20,000 files, and the lstat calls are most of a warm
// fetch: they are spread over a few goroutines.
func verifyFiles(dir string, files map[string]int64) error {
	if len(files) == 0 {
		return fmt.Errorf("%w: %s: empty manifest", ErrCorrupt, dir)
	}
	rels := make([]string, 0, len(files))
	for rel := range files {
		rels = append(rels, rel)
	}
	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rels) && errs[w] == nil; i += workers {
				rel := rels[i]
				info, err := os.Lstat(filepath.Join(dir, rel))
				switch {
				case err != nil:
					errs[w] = fmt.Errorf("%w: %s: %s is missing", ErrCorrupt, dir, rel)
				case info.Size() != files[rel]:
					errs[w] = fmt.Errorf("%w: %s: %s has %d bytes, want %d", ErrCorrupt, dir, rel, info.Size(), files[rel])
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// relative returns k with its paths made relative to dir, for the manifest.
func relative(k Kernel, dir string) Kernel {
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return p
		}
		return r
	}
	k.Dir = ""
	k.BzImage, k.Vmlinux, k.SystemMap = rel(k.BzImage), rel(k.Vmlinux), rel(k.SystemMap)
	k.Config, k.ModulesDir, k.KDir = rel(k.Config), rel(k.ModulesDir), rel(k.KDir)
	return k
}

// absolute is the inverse of relative.
func absolute(k Kernel, dir string) *Kernel {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	k.Dir = dir
	k.BzImage, k.Vmlinux, k.SystemMap = abs(k.BzImage), abs(k.Vmlinux), abs(k.SystemMap)
	k.Config, k.ModulesDir, k.KDir = abs(k.Config), abs(k.ModulesDir), abs(k.KDir)
	return &k
}
