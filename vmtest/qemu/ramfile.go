package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/internal/zfile"
)

// Guest RAM as a file. A VM that may be saved (Config.Saveable) has its RAM
// in a file it maps shared, so that VM.Save can write the devices' state
// alone and keep the RAM as it lies. A restored VM maps the RAM of its
// saved state privately: pages are read from the file when the guest
// touches them and copied when it writes them, so no restore loads 256
// MiB, and VMs restored from one state share its clean pages. The
// uncompressed RAM a restore maps is made once from the state's
// compressed part, on tmpfs (/dev/shm) where it has room, and kept there
// for the next restore: a "RAM copy", named after the state and its
// checksum, evicted least recently used first beyond ramCopyBudget(). Files
// are written sparse: the zero pages of a guest take no memory.

// ramID is the id of the guest RAM's memory backend.
const ramID = "kmodvm-ram"

// ramCopyBudget bounds the memory the RAM copies take (blocks in use, not
// their sizes): 1 GiB (about ten kernels' guests), less on a host with
// under 8 GiB; the copy just made or used always stays.
func ramCopyBudget() int64 {
	budget := int64(1) << 30
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		budget = min(budget, int64(si.Totalram)*int64(si.Unit)/8)
	}
	return budget
}

// vmRAMPrefix names the RAM files of running VMs; each is locked (flock)
// by its process while the VM lives, so that one left by a killed process
// is found and removed.
const vmRAMPrefix = "vm-"

// ramDirs are the directories RAM files may be made in, best first: the
// user's on /dev/shm (tmpfs: pages in memory, never written back), and
// under the temporary directory.
func ramDirs() []string {
	name := fmt.Sprintf("kmodvm-ram-%d", os.Getuid())
	return []string{filepath.Join("/dev/shm", name), filepath.Join(os.TempDir(), name)}
}

// ramDir returns the first of ramDirs that can be made and has need bytes
// free: a shared RAM file on a full tmpfs would kill QEMU with SIGBUS when
// the guest touched a page.
func ramDir(need int64) (string, error) {
	var err error
	for _, dir := range ramDirs() {
		if err = os.MkdirAll(dir, 0o700); err != nil {
			continue
		}
		var st syscall.Statfs_t
		if err = syscall.Statfs(dir, &st); err != nil {
			continue
		}
		if free := int64(st.Bavail) * st.Bsize; free < need {
			err = fmt.Errorf("%s: %d MB free, %d MB needed", dir, free>>20, need>>20)
			continue
		}
		return dir, nil
	}
	return "", fmt.Errorf("%w: %v", ErrNoRAMFile, err)
}

// lockedRAMFile creates a locked, empty vm- file in dir, after removing
// those no process holds.
func lockedRAMFile(dir string) (*os.File, error) {
	sweepRAMFiles(dir)
	f, err := os.CreateTemp(dir, vmRAMPrefix+"*.ram")
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// sweepRAMFiles removes the vm- files in dir whose lock no process holds.
func sweepRAMFiles(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, vmRAMPrefix+"*.ram"))
	for _, p := range names {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.Remove(p)
		}
		f.Close()
	}
}

// makeRAM creates the file behind a saveable VM's RAM, sized, removed when
// the VM is released.
func (v *VM) makeRAM() error {
	mib := v.cfg.memoryMiB()
	// Twice its size: room for the RAM copies of other VMs too.
	dir, err := ramDir(2 * int64(mib) << 20)
	if err != nil {
		return err
	}
	f, err := lockedRAMFile(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoRAMFile, err)
	}
	if err := f.Truncate(int64(mib) << 20); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("%w: %v", ErrNoRAMFile, err)
	}
	v.cfg.ram, v.ram = ramFile{f.Name(), true}, f
	v.cleanup = append(v.cleanup, func() { os.Remove(f.Name()); f.Close() })
	return nil
}

// ramFile is the file a VM's RAM is mapped from, shared (a saveable VM's)
// or private (a restored one's).
type ramFile struct {
	path   string
	shared bool
}

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
// there is none: its compressed part is checked against its checksum and
// written sparse, through a locked vm- file renamed into place, so that a
// copy is whole or absent and processes racing to make it only do the
// work twice.
func (s *stateFile) ramCopy(statePath string) (string, error) {
	name := ramCopyName(statePath, s.ram.sum)
	for _, dir := range ramDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Size() == s.ramSize {
			if time.Since(fi.ModTime()) > time.Minute {
				now := time.Now()
				os.Chtimes(p, now, now)
			}
			return p, nil
		}
	}
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
	err = writeSparse(f, in, s.ramSize)
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
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	evictRAMCopies(dir, p, ramCopyBudget())
	return p, nil
}

// ErrNoRAMFile is returned (wrapped) by Start when the file of a saveable
// VM's RAM or a restore's RAM copy could not be made (no room in /dev/shm
// or the temporary directory, say): a saved state is sound, the caller
// boots the kernel as a plain VM instead.
var ErrNoRAMFile = errors.New("qemu: no room for a file of the guest's RAM")

// errWrite marks writeSparse's errors of the file written, not of the
// state read.
var errWrite = errors.New("write")

// writeSparse decompresses in into f, which must be empty, skipping its
// all-zero pages, and checks it held size bytes.
func writeSparse(f *os.File, in io.Reader, size int64) error {
	zr, err := zfile.NewReader(in)
	if err != nil {
		return err
	}
	defer zr.Close()
	const page = 4096
	buf := make([]byte, 1<<20)
	zero := make([]byte, page)
	var off int64
	for {
		n, err := io.ReadFull(zr, buf)
		for i := 0; i < n; {
			// A run of pages with data, written at once.
			j := i
			for j < n && !bytes.Equal(buf[j:min(j+page, n)], zero[:min(page, n-j)]) {
				j += page
			}
			j = min(j, n)
			if j > i {
				if _, err := f.WriteAt(buf[i:j], off+int64(i)); err != nil {
					return fmt.Errorf("%w: %w", errWrite, err)
				}
			}
			i = j + page
		}
		off += int64(n)
		if off > size {
			return fmt.Errorf("the saved RAM holds more than its %d bytes", size)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if off != size {
		return fmt.Errorf("the saved RAM holds %d bytes, not %d", off, size)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("%w: %w", errWrite, err)
	}
	return nil
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
		total += used
		if p != keep {
			copies = append(copies, copy{p, used, fi.ModTime()})
		}
	}
	slices.SortFunc(copies, func(a, b copy) int { return a.mod.Compare(b.mod) })
	for _, c := range copies {
		if total <= budget {
			break
		}
		// A VM that maps it keeps its pages until it ends.
		if os.Remove(c.path) == nil {
			total -= c.used
		}
	}
}

// removeRAMCopies removes the RAM copies of the state at statePath.
func removeRAMCopies(statePath string) {
	for _, dir := range ramDirs() {
		names, _ := filepath.Glob(filepath.Join(dir, ramCopyPrefix(statePath)+"*.ram"))
		for _, p := range names {
			os.Remove(p)
		}
	}
}
