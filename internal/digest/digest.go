// Package digest records what the files of a cache entry held when kmodvm
// made them (a SHA-256 per file) and checks them before they are used
// again. Hashing a kernel entry's 100 MB on every run would cost more than
// the run's other work, so each file's digest is kept with a fingerprint
// from lstat (size, inode, modification and change times): a file whose
// fingerprint is unchanged is taken as unchanged, and only the others are
// hashed again. Writing to a file, even at the same size and with its
// modification time put back (touch -r), moves its change time, which no
// unprivileged program can set, so an in-place change is always hashed.
//
// The kernel entries, the module builds, the image layers, the toolchain
// userlands and the VM snapshots' RAM copies are checked this way.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Fingerprint is what lstat says of a file that changes when the file is
// written, replaced or renamed over.
type Fingerprint struct {
	Size         int64
	Ino          uint64
	Mtime, Ctime int64 // nanoseconds since the epoch
}

// FingerprintOf returns info's fingerprint (info from os.Lstat or Stat).
func FingerprintOf(info fs.FileInfo) Fingerprint {
	fp := Fingerprint{Size: info.Size(), Mtime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		fp.Ino = st.Ino
		fp.Ctime = st.Ctim.Nano()
	}
	return fp
}

// File is one file of a Set: its path, relative to the set's root with
// slashes, its content's digest and its fingerprint when last hashed.
type File struct {
	Path string
	Sum  [sha256.Size]byte
	FP   Fingerprint
}

// Set is the digests of an entry's files.
type Set struct {
	Files []File
}

// ErrDamaged means a file differs from its digest, or is gone.
var ErrDamaged = errors.New("damaged")

// Damage lists the files of Root that failed their check; it wraps
// ErrDamaged.
type Damage struct {
	Root  string
	Files []string // "<path>: <what is wrong>", in path order
}

func (d *Damage) Error() string {
	more := ""
	if n := len(d.Files) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more damaged files)", n)
	}
	return fmt.Sprintf("%s: %s%s", d.Root, d.Files[0], more)
}

func (d *Damage) Unwrap() error { return ErrDamaged }

// Size is the bytes of the set's files.
func (s *Set) Size() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.FP.Size
	}
	return n
}

// Make hashes the files at paths (relative to root) and returns their set.
// A symbolic link is recorded by its target, not followed.
func Make(root string, paths []string) (*Set, error) {
	s := &Set{Files: make([]File, len(paths))}
	for i, p := range paths {
		s.Files[i].Path = filepath.ToSlash(p)
	}
	slices.SortFunc(s.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	errs := parallel(len(s.Files), func(i int) error {
		f := &s.Files[i]
		sum, fp, err := hashFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil {
			return err
		}
		f.Sum, f.FP = sum, fp
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("digest %s: %w", root, err)
	}
	return s, nil
}

// List returns the regular files and symbolic links under root, relative
// to it, but those skip names (a path relative to root, with slashes; a
// skipped directory is not entered).
func List(root string, skip func(rel string) bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// Check compares each file's fingerprint with the file's and hashes again
// those that differ. A file whose content still matches its digest gets
// its new fingerprint, and refreshed is true: the caller may write the set
// again so that the next check need not hash it. A file gone or changed
// makes a *Damage.
func (s *Set) Check(root string) (refreshed bool, err error) {
	return s.check(root, false)
}

// Verify hashes every file again, whatever its fingerprint says.
func (s *Set) Verify(root string) (refreshed bool, err error) {
	return s.check(root, true)
}

func (s *Set) check(root string, all bool) (bool, error) {
	if len(s.Files) == 0 {
		return false, &Damage{Root: root, Files: []string{"no files recorded"}}
	}
	damage := make([]string, len(s.Files))
	changed := make([]bool, len(s.Files))
	groups := byDir(s.Files)
	errs := parallel(len(groups), func(g int) error {
		return groups[g].stat(root, func(i int, st *unix.Stat_t, err error) error {
			msg, ch, err := s.checkFile(root, i, st, err, all)
			damage[i], changed[i] = msg, ch
			return err
		})
	})
	if err := errors.Join(errs...); err != nil {
		return false, fmt.Errorf("check %s: %w", root, err)
	}
	d := &Damage{Root: root}
	for _, m := range damage {
		if m != "" {
			d.Files = append(d.Files, m)
		}
	}
	if len(d.Files) > 0 {
		return false, d
	}
	return slices.Contains(changed, true), nil
}

// checkFile checks file i given its lstat (st, or the error that had
// instead), hashing it when its fingerprint moved or all is set. It
// returns what is wrong with it, if anything, and whether its fingerprint
// was replaced.
func (s *Set) checkFile(root string, i int, st *unix.Stat_t, statErr error, all bool) (damage string, changed bool, err error) {
	f := &s.Files[i]
	switch {
	case statErr != nil:
		return f.Path + ": missing", false, nil
	case st.Size != f.FP.Size:
		return fmt.Sprintf("%s: %d bytes, %d when it was made", f.Path, st.Size, f.FP.Size), false, nil
	case !all && fingerprintOfStat(st) == f.FP:
		return "", false, nil
	}
	sum, fp, err := hashFile(filepath.Join(root, filepath.FromSlash(f.Path)))
	switch {
	case err != nil:
		return "", false, err
	case sum != f.Sum:
		return f.Path + ": content differs from its digest (changed in place)", false, nil
	case fp != f.FP:
		f.FP = fp
		return "", true, nil
	}
	return "", false, nil
}

// dirGroup is the files of a Set in one directory.
type dirGroup struct {
	dir   string
	names []string
	index []int // into Set.Files
}

// byDir groups files by directory: lstat of a name relative to an open
// directory (fstatat) resolves one path component where lstat of a header
// deep in a kernel's tree resolves ten, which took a third of a check.
func byDir(files []File) []dirGroup {
	var groups []dirGroup
	at := map[string]int{}
	for i, f := range files {
		dir, name := path.Split(f.Path)
		g, ok := at[dir]
		if !ok {
			g = len(groups)
			at[dir] = g
			groups = append(groups, dirGroup{dir: dir})
		}
		groups[g].names = append(groups[g].names, name)
		groups[g].index = append(groups[g].index, i)
	}
	return groups
}

// stat calls fn with the lstat of each file of g, or the error it gave.
func (g *dirGroup) stat(root string, fn func(i int, st *unix.Stat_t, err error) error) error {
	fd, err := unix.Open(filepath.Join(root, filepath.FromSlash(g.dir)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(fd)
	}
	var st unix.Stat_t
	for k, name := range g.names {
		serr := err
		if serr == nil {
			serr = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err := fn(g.index[k], &st, serr); err != nil {
			return err
		}
	}
	return nil
}

func fingerprintOfStat(st *unix.Stat_t) Fingerprint {
	return Fingerprint{Size: st.Size, Ino: st.Ino, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

// hashFile returns the digest and fingerprint of the file at p: its
// content's, or for a symbolic link its target's, in a domain of its own
// so that a link never matches a file.
func hashFile(p string) (sum [sha256.Size]byte, fp Fingerprint, err error) {
	info, err := os.Lstat(p)
	if err != nil {
		return sum, fp, err
	}
	h := sha256.New()
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return sum, fp, err
		}
		io.WriteString(h, "symlink\x00"+target)
	case info.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return sum, fp, err
		}
		defer f.Close()
		// The fingerprint of the file hashed: a write after the open
		// moves the change time, and the next check hashes it again.
		if info, err = f.Stat(); err != nil {
			return sum, fp, err
		}
		if _, err := io.Copy(h, f); err != nil {
			return sum, fp, err
		}
	default:
		return sum, fp, fmt.Errorf("%s: neither a file nor a symbolic link (%s)", p, info.Mode().Type())
	}
	copy(sum[:], h.Sum(nil))
	return sum, FingerprintOf(info), nil
}

// parallel runs fn for 0..n-1 on a few goroutines: lstat and hashing are
// most of a check, and a kernel entry has some 14,000 files.
func parallel(n int, fn func(i int) error) []error {
	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && errs[w] == nil; i += workers {
				errs[w] = fn(i)
			}
		}()
	}
	wg.Wait()
	return errs
}

func hexSum(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }

// FileSHA256 returns the size and hex SHA-256 of the file at path: the
// plain check of a file against a size and sum someone else recorded (a
// Debian package's, a layer's sidecar of the old format).
func FileSHA256(path string) (size int64, sum string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
