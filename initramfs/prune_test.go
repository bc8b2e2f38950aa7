package initramfs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/internal/cachedir"
)

func TestPruneRemovesOnlyLayersUnusedForLong(t *testing.T) {
	root := t.TempDir()
	b := &Builder{CacheDir: root}
	dir := cachedir.Layout{Root: root}.Layers()
	os.MkdirAll(dir, 0o755)
	old := time.Now().Add(-30 * 24 * time.Hour)
	for name, mtime := range map[string]time.Time{"old.cpio": old, "new.cpio": time.Now(), "used.cpio": old, "notes.txt": old} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o644)
		if filepath.Ext(name) == ".cpio" {
			if err := writeSum(p); err != nil {
				t.Fatal(err)
			}
		}
		os.Chtimes(p, mtime, mtime)
	}
	// A cache hit on an old layer marks it used.
	if _, err := b.cached(t.Context(), "used.cpio", nil); err != nil {
		t.Fatal(err)
	}
	n, err := b.Prune(7 * 24 * time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 removed", n, err)
	}
	for name, want := range map[string]bool{"old.cpio": false, "old.cpio" + sumSuffix: false, "new.cpio": true, "used.cpio": true, "notes.txt": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s kept = %v, want %v", name, err == nil, want)
		}
	}
}
