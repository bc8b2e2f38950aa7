package cachedir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPruneRemovesWhatMatchesAndWasUnusedForMaxAge(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	for _, c := range []struct {
		rule   string
		maxAge time.Duration
		fail   string // a name whose removal fails
		want   []string
		n      int
	}{
		{"old and matching", 24 * time.Hour, "", []string{"new.x", "old.y", "touched.x"}, 1},
		{"0 removes every match", 0, "", []string{"old.y"}, 3},
		{"a failed removal is reported, not counted", 24 * time.Hour, "old.x", []string{"new.x", "old.x", "old.y", "touched.x"}, 0},
	} {
		dir := t.TempDir()
		for name, mtime := range map[string]time.Time{"old.x": old, "new.x": time.Now(), "old.y": old, "touched.x": old} {
			p := filepath.Join(dir, name)
			os.WriteFile(p, []byte("12345"), 0o644)
			os.Chtimes(p, mtime, mtime)
		}
		Touch(filepath.Join(dir, "touched.x"))
		match := func(e fs.DirEntry) bool { return filepath.Ext(e.Name()) == ".x" }
		remove := func(p string) error {
			if filepath.Base(p) == c.fail {
				return errors.New("cannot")
			}
			return os.Remove(p)
		}
		n, freed, err := Prune(dir, c.maxAge, match, remove)
		if (err != nil) != (c.fail != "") || n != c.n || freed != int64(5*c.n) {
			t.Errorf("%s: Prune = %d, %d, %v", c.rule, n, freed, err)
		}
		var left []string
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			left = append(left, e.Name())
		}
		if !slices.Equal(left, c.want) {
			t.Errorf("%s: left %q, want %q", c.rule, left, c.want)
		}
	}
}

func TestPruneOfAFolderNeverMadeIsNothing(t *testing.T) {
	n, freed, err := Prune(filepath.Join(t.TempDir(), "none"), 0, func(fs.DirEntry) bool { return true }, os.Remove)
	if n != 0 || freed != 0 || err != nil {
		t.Errorf("Prune = %d, %d, %v", n, freed, err)
	}
}

// An entry another process removed first is gone, as Prune wanted.
func TestPruneCountsAnEntryRemovedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o644)
	n, _, err := Prune(dir, 0, func(fs.DirEntry) bool { return true }, func(p string) error {
		os.Remove(p)
		return os.Remove(p)
	})
	if n != 1 || err != nil {
		t.Errorf("Prune = %d, %v", n, err)
	}
}
