package initramfs

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// touchEvery bounds how often a used layer's time is refreshed.
const touchEvery = time.Hour

// touch marks a layer as used now, for Prune.
func touch(path string, info os.FileInfo) {
	if time.Since(info.ModTime()) > touchEvery {
		now := time.Now()
		os.Chtimes(path, now, now)
	}
}

// Prune removes the cached layers, and their lock files, that no build used
// for maxAge: every change to a test package or the agent makes new ones,
// so the cache would otherwise only grow. It returns how many layers it
// removed.
func (b *Builder) Prune(maxAge time.Duration) (int, error) {
	cache, err := b.cache()
	if err != nil {
		return 0, err
	}
	dir := cache.Layers()
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !strings.HasSuffix(e.Name(), ".cpio") || time.Since(info.ModTime()) < maxAge {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
			os.Remove(filepath.Join(dir, e.Name()+sumSuffix))
			os.Remove(cache.Lock(lockName(e.Name())))
		}
	}
	return n, nil
}
