package initramfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/internal/cachedir"
)

// Prune removes the cached layers, and their lock files, that no build used
// for maxAge: every change to a test package or the agent makes new ones,
// so the cache would otherwise only grow. It returns how many layers it
// removed.
func (b *Builder) Prune(maxAge time.Duration) (int, error) {
	cache, err := b.cache()
	if err != nil {
		return 0, err
	}
	isLayer := func(e fs.DirEntry) bool { return strings.HasSuffix(e.Name(), ".cpio") }
	n, _, err := cachedir.Prune(cache.Layers(), maxAge, isLayer, func(p string) error {
		if err := os.Remove(p); err != nil {
			return err
		}
		os.Remove(p + sumSuffix)
		os.Remove(cache.Lock(lockName(filepath.Base(p))))
		return nil
	})
	return n, err
}
