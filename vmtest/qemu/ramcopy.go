package qemu

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// A RAM copy is verified before every restore maps it: beside it,
// <copy>.sum holds the SHA-256 of its content (all of it, zero pages
// included), computed while the copy was unpacked, and the copy's
// fingerprint (internal/digest). A copy whose fingerprint is unchanged is
// used as it is; one whose fingerprint moved is hashed again (256 MiB,
// about a fifth of a second), and one that fails, or has no sum (an older
// kmodvm's), is removed and unpacked again from its snapshot. The sum's
// modification time, not the copy's, says when the copy was last used, so
// that marking it used moves no fingerprint.
const ramSumSuffix = ".sum"

// ramCopyName is the RAM copy of the state at statePath with the given
// RAM checksum: ramCopyPrefix, the checksum, ".ram".
func ramCopyName(statePath string, sum uint32) string {
	return fmt.Sprintf("%s%08x.ram", ramCopyPrefix(statePath), sum)
}

// ramCopyPrefix begins the names of the state at statePath's RAM copies.
func ramCopyPrefix(statePath string) string {
	return strings.TrimSuffix(filepath.Base(statePath), ".state") + "-"
}

// ramCopy returns the RAM copy of s, the state at statePath, making it if
// there is none or the one there fails its sum: its compressed part is
// checked against its checksum and written sparse, through a locked vm-
// file renamed into place, so that a copy is whole or absent and
// processes racing to make it only do the work twice.
func (s *stateFile) ramCopy(statePath string) (string, error) {
	name := ramCopyName(statePath, s.ram.sum)
	for _, dir := range ramDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Lstat(p); err != nil || fi.Size() != s.ramSize {
			continue
		}
		if checkRAMCopy(p) == nil {
			markUsed(p + ramSumSuffix)
			return p, nil
		}
		removeRAMCopy(p)
	}
	return s.makeRAMCopy(name)
}

// makeRAMCopy unpacks s's RAM into a copy called name, with its sum.
func (s *stateFile) makeRAMCopy(name string) (string, error) {
	dir, err := ramDir(s.ramSize)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	f, err := lockedRAMFile(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoRAMFile, err)
	}
	defer f.Close()
	in, check := s.part(s.ram)
	h := sha256.New()
	err = writeSparse(f, in, s.ramSize, h)
	if cerr := check(); cerr != nil {
		err = cerr // damage that showed first as a zstd error
	} else if errors.Is(err, errWrite) {
		err = fmt.Errorf("%w: %s: %v", ErrNoRAMFile, dir, err)
	}
	if err == nil {
		if err = os.Rename(f.Name(), p); err != nil {
			err = fmt.Errorf("%w: %v", ErrNoRAMFile, err)
		}
	}
	if err == nil {
		sum := digest.File{Path: name}
		copy(sum.Sum[:], h.Sum(nil))
		if err = writeRAMSum(p, sum); err != nil {
			removeRAMCopy(p)
			err = fmt.Errorf("%w: %v", ErrNoRAMFile, err)
		}
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	evictRAMCopies(dir, p, ramCopyBudget())
	return p, nil
}

// writeRAMSum writes the sum of the copy at p, sum with the copy's
// fingerprint as it is now (after its rename, which moves its change
// time).
func writeRAMSum(p string, sum digest.File) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	sum.FP = digest.FingerprintOf(info)
	return (&digest.Set{Files: []digest.File{sum}}).Write(p + ramSumSuffix)
}

// checkRAMCopy checks the copy at p against its sum.
func checkRAMCopy(p string) error {
	s, err := digest.Read(p + ramSumSuffix)
	if err != nil {
		return err
	}
	if len(s.Files) != 1 || s.Files[0].Path != filepath.Base(p) {
		return fmt.Errorf("%s: its sum names another file", p)
	}
	refreshed, err := s.Check(filepath.Dir(p))
	if err == nil && refreshed {
		err = s.Write(p + ramSumSuffix)
	}
	return err
}

// markUsed sets the time of the file at p to now, at most once a minute.
func markUsed(p string) {
	if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > time.Minute {
		now := time.Now()
		os.Chtimes(p, now, now)
	}
}

// removeRAMCopy removes the copy at p and its sum.
func removeRAMCopy(p string) {
	os.Remove(p)
	os.Remove(p + ramSumSuffix)
}

// evictRAMCopies removes the least recently used RAM copies in dir until
// those left take at most budget bytes of memory; keep stays.
func evictRAMCopies(dir, keep string, budget int64) {
	type copy struct {
		path string
		used int64
		mod  time.Time
	}
	var copies []copy
	var total int64
	names, _ := filepath.Glob(filepath.Join(dir, "*.ram"))
	for _, p := range names {
		fi, err := os.Stat(p)
		if err != nil || strings.HasPrefix(filepath.Base(p), vmRAMPrefix) {
			continue
		}
		used := fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			used = st.Blocks * 512
		}
		mod := fi.ModTime()
		if si, err := os.Stat(p + ramSumSuffix); err == nil {
			mod = si.ModTime()
		}
		total += used
		if p != keep {
			copies = append(copies, copy{p, used, mod})
		}
	}
	slices.SortFunc(copies, func(a, b copy) int { return a.mod.Compare(b.mod) })
	for _, c := range copies {
		if total <= budget {
			break
		}
		// A VM that maps it keeps its pages until it ends.
		if os.Remove(c.path) == nil {
			os.Remove(c.path + ramSumSuffix)
			total -= c.used
		}
	}
}

// removeRAMCopies removes the RAM copies of the state at statePath, and
// their sums.
func removeRAMCopies(statePath string) {
	for _, dir := range ramDirs() {
		names, _ := filepath.Glob(filepath.Join(dir, ramCopyPrefix(statePath)+"*.ram*"))
		for _, p := range names {
			os.Remove(p)
		}
	}
}
