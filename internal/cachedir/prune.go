package cachedir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// touchEvery bounds how often a used entry's time is refreshed: Prune
// measures ages in days, and a cache hit should cost no write.
const touchEvery = time.Hour

// Touch marks the entry at path (a file or a directory) as used now, for
// Prune. Entries whose contents are keyed by their inputs are never
// rewritten once made, so their modification time is when they were last
// used.
func Touch(path string) {
	if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) > touchEvery {
		now := time.Now()
		os.Chtimes(path, now, now)
	}
}

// Prune removes the entries of dir that match selects and that were not
// used (see Touch) for maxAge, all of them when maxAge is 0, calling remove
// for each: the caller removes what goes with an entry (its lock, its
// checksum). It returns how many it removed and their size (a file's; a
// directory counts as its own size, not its contents'), and why it could
// not remove the others. An entry that another process removed first counts
// as removed. A dir that does not exist holds nothing to prune.
//
// Prune takes no lock: what has not been used for maxAge is taken to be
// unused now, and each caller says what a removal costs one that was
// (a writer's temporary file removed fails its rename, say).
func Prune(dir string, maxAge time.Duration, match func(fs.DirEntry) bool, remove func(path string) error) (n int, freed int64, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !match(e) || time.Since(info.ModTime()) < maxAge {
			continue
		}
		if err := remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
		freed += info.Size()
	}
	return n, freed, errors.Join(errs...)
}
