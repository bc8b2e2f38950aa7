// Package privdir makes the directories kmodvm keeps its files in under
// directories every user may write (/dev/shm, the temporary directory).
// A name there is anyone's to take first: another user could make
// /dev/shm/kmodvm-ram-0 before kmodvm does, or a symbolic link by that
// name, and read or swap the guest RAM kmodvm puts in it. So a directory
// is used only if lstat says it is a directory (not a link), owned by this
// user, with no permission for anyone else; this is checked after it is
// made and on every use. One that fails is never used: a private
// directory of a fresh name takes its place, with a note saying so.
package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// ErrNotPrivate means a directory is not this user's own.
var ErrNotPrivate = errors.New("not a private directory")

// Check reports whether dir is a directory, not a symbolic link, owned by
// this process's effective user and closed to everyone else. A directory
// of this user's that others may read is closed (chmod 0700) first; one
// that others may write is refused, since they may have put links in it.
func Check(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link", ErrNotPrivate, dir)
	case !info.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrNotPrivate, dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%w: %s belongs to uid %d", ErrNotPrivate, dir, st.Uid)
	case info.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: others may write in %s (%v)", ErrNotPrivate, dir, info.Mode().Perm())
	case info.Mode().Perm()&0o077 != 0:
		// Through the path just checked: chmod follows no link at the
		// last component, which lstat found to be a directory.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%w: %s is open to others (%v) and cannot be closed: %v", ErrNotPrivate, dir, info.Mode().Perm(), err)
		}
	}
	return nil
}

// Make creates dir (mode 0700; its parent must exist) unless it exists,
// and checks it.
func Make(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return Check(dir)
}

// In returns the private directory called name in parent, made if need
// be. When parent/name is not this user's own (another user made it
// first, or a link), it is left alone and In returns a private directory
// of a fresh name, name-<random>, reusing one this user made so before,
// with a note that says so for the user.
func In(parent, name string) (dir, note string, err error) {
	want := filepath.Join(parent, name)
	err = Make(want)
	if err == nil {
		return want, "", nil
	}
	if !errors.Is(err, ErrNotPrivate) {
		return "", "", err
	}
	why := err
	dir, err = fresh(parent, name)
	if err != nil {
		return "", "", fmt.Errorf("%v, and no private directory could be made instead: %w", why, err)
	}
	note = fmt.Sprintf("%v: not kmodvm's own, so not used; using %s instead (remove %s to have kmodvm make its own)", why, dir, want)
	return dir, note, nil
}

// fresh returns a private directory name-<random> in parent: the first
// such that is this user's own, else a new one.
func fresh(parent, name string) (string, error) {
	old, _ := filepath.Glob(filepath.Join(parent, name+"-*"))
	sort.Strings(old)
	for _, d := range old {
		if Check(d) == nil {
			return d, nil
		}
	}
	d, err := os.MkdirTemp(parent, name+"-")
	if err != nil {
		return "", err
	}
	return d, Check(d)
}
