package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// digestsFile holds, beside an entry's manifest, the SHA-256 and the
// fingerprint of every file of the manifest and of the manifest itself
// (internal/digest). Older kmodvms neither write nor read it.
const digestsFile = "digests"

// recordDigests hashes the entry's files and its manifest into its
// digests file.
func recordDigests(dir string, files map[string]int64) error {
	paths := make([]string, 0, len(files)+1)
	for rel := range files {
		paths = append(paths, rel)
	}
	s, err := digest.Make(dir, append(paths, "manifest.json"))
	if err != nil {
		return err
	}
	return s.Write(filepath.Join(dir, digestsFile))
}

// checkDigests checks the entry at dir against its digests: the files
// whose fingerprint changed are hashed again (all of them with all), and
// the fingerprints of those still intact are written back so that the
// next run need not hash them. A damaged entry's error wraps ErrCorrupt
// and names the file.
//
// An entry without digests was made by a kmodvm before them: its files'
// sizes are checked, as that kmodvm did, and its digests recorded from the
// files as they are. Treating it as stale instead would download every
// cached kernel again (and rebuild a debug kernel, half an hour), or,
// offline, refuse it; a file already changed at its size before the
// upgrade is the one case this misses, and `kmodvm kernels verify` cannot
// tell it either.
func checkDigests(dir string, m *manifestHead, all bool) error {
	path := filepath.Join(dir, digestsFile)
	s, err := digest.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return adoptLegacy(dir, m)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	check := s.Check
	if all {
		check = s.Verify
	}
	refreshed, err := check(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if refreshed {
		// Best effort: a cache the user may only read is hashed again
		// next time.
		_ = s.Write(path)
	}
	return nil
}

// adoptLegacy checks an entry without digests by its manifest's sizes and
// records its digests.
func adoptLegacy(dir string, m *manifestHead) error {
	var whole manifest
	if err := json.Unmarshal(m.data, &whole); err != nil {
		return fmt.Errorf("%w: %s/manifest.json: %v", ErrCorrupt, dir, err)
	}
	files := whole.Files
	if err := verifyFiles(dir, files); err != nil {
		return err
	}
	if err := recordDigests(dir, files); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// Verify hashes every file of the entry for key again, whatever the
// fingerprints say, and returns what is damaged (wrapping ErrCorrupt) and
// the entry.
func (c *Cache) Verify(key string) (*Kernel, error) {
	dir := c.entryDir(key)
	m, err := c.readManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := checkDigests(dir, m, true); err != nil {
		return nil, err
	}
	return absolute(m.Kernel, dir), nil
}

// VerifyAll is List with every file of every entry hashed again.
func (c *Cache) VerifyAll() (good []*Kernel, bad map[string]error) {
	return c.list(c.Verify)
}
