package toolchain

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// A userland's files are checked like a kernel's cache entry: a SHA-256
// and fingerprint per file (internal/digest), recorded when debootstrap
// made it and checked, hashing only what moved, before the first build of
// a run enters it. Digests of the file list with sizes alone would cost
// the same walk at use and miss a compiler or header changed in place at
// its size; hashing the userland's 270 MB once after a debootstrap of half
// a minute costs about a second.
//
// The digests are kept beside the userland (<root>.digests), out of the
// chroot's reach.
func digestsPath(root string) string { return root + ".digests" }

// unchecked are the folders of a userland that builds write or the kernel
// fills, and those no build reads (documentation, translations, time
// zones, the package manager's state: a fifth of the files, left out of
// every check's lstat), never recorded.
var unchecked = []string{
	"proc", "sys", "dev", "run", "tmp", "var",
	"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/zoneinfo",
	"usr/share/lintian", "usr/share/bash-completion",
}

func skipUnchecked(rel string) bool {
	for _, v := range unchecked {
		if rel == v || strings.HasPrefix(rel, v+"/") {
			return true
		}
	}
	return false
}

// recordUserland hashes the userland at root into its digests.
func recordUserland(root string) error {
	paths, err := digest.List(root, skipUnchecked)
	if err != nil {
		return err
	}
	s, err := digest.Make(root, paths)
	if err != nil {
		return err
	}
	return s.Write(digestsPath(root))
}

// checkUserland checks the userland at root against its digests; one
// without (made by a kmodvm before them) has them recorded from its files
// as they are, since making it again costs a debootstrap with network and
// root. A damaged one's error wraps digest.ErrDamaged and names the file.
func checkUserland(root string) error {
	s, err := digest.Read(digestsPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		if err := recordUserland(root); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	refreshed, err := s.Check(root)
	if err != nil {
		return err
	}
	if refreshed {
		_ = s.Write(digestsPath(root)) // best effort: hashed again next time
	}
	return nil
}

// usable reports whether the userland at root is ready and intact,
// checking it once per Set; why is the damage found, if any.
func (t *Set) usable(root string) (ok bool, why error) {
	if !ready(root) {
		return false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.checked[root] {
		return true, nil
	}
	if err := checkUserland(root); err != nil {
		return false, err
	}
	if t.checked == nil {
		t.checked = map[string]bool{}
	}
	t.checked[root] = true
	return true, nil
}

// offlineError is the error of a userland that cannot be made offline.
func offlineError(root string, damage error) error {
	if damage != nil {
		return fmt.Errorf("the toolchain userland is damaged (%v) and kmodvm is offline: run kmodvm once with network to make it again", damage)
	}
	return fmt.Errorf("no toolchain userland %s and kmodvm is offline: run kmodvm once with network to make it", filepath.Base(root))
}

// removeUserland removes a damaged userland and its digests.
func removeUserland(root string) {
	os.Remove(filepath.Join(root, readyFile))
	os.RemoveAll(root)
	os.Remove(digestsPath(root))
}

// VerifyUserlands hashes every file of every finished userland in dir
// again, whatever the fingerprints say, and returns each userland's name
// with what is wrong with it, or nil. One without digests has them
// recorded.
func VerifyUserlands(dir string) (map[string]error, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := map[string]error{}
	for _, e := range ents {
		root := filepath.Join(dir, e.Name())
		if !e.IsDir() || !ready(root) {
			continue
		}
		s, err := digest.Read(digestsPath(root))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			err = recordUserland(root)
		case err == nil:
			_, err = s.Verify(root)
		}
		out[e.Name()] = err
	}
	return out, nil
}
