package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/kmodvm/kmodvm/internal/privdir"
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

// shmDir is the tmpfs RAM files go to first.
var shmDir = "/dev/shm"

// ramParents are where RAM files may be made, best first: /dev/shm
// (tmpfs: pages in memory, never written back), then the temporary
// directory; in each, in kmodvm's own directory (see ramDirIn).
func ramParents() []string { return []string{shmDir, os.TempDir()} }

// ramDirs are the RAM directories that exist now and are this user's own,
// best first: where RAM files are looked for and removed. None is made:
// a directory is made only when a RAM file must go there (ramDir).
func ramDirs() []string {
	var dirs []string
	name := ramDirName()
	for _, parent := range ramParents() {
		cands, _ := filepath.Glob(filepath.Join(parent, name+"-*"))
		for _, d := range append([]string{filepath.Join(parent, name)}, cands...) {
			if privdir.Check(d) == nil {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// ramDirName is the name of this user's RAM directory in a parent.
func ramDirName() string { return fmt.Sprintf("kmodvm-ram-%d", os.Getuid()) }

// ramDirNotes says once per directory that kmodvm did not use it.
var ramDirNotes sync.Map

// ramDirIn returns the private directory for RAM files in parent:
// kmodvm-ram-<uid>, made with mode 0700 and used only while lstat finds
// it a directory of this user's, closed to others (internal/privdir). A
// guest's RAM holds its secrets, and a restore maps whatever file it
// finds there: another user's directory of that name, or a link, would
// let them read or swap it. Such a one is left alone for a private
// directory of another name, and a note on stderr says so.
func ramDirIn(parent string) (string, error) {
	dir, note, err := privdir.In(parent, ramDirName())
	if err != nil {
		return "", err
	}
	if _, seen := ramDirNotes.LoadOrStore(note, true); note != "" && !seen {
		fmt.Fprintf(os.Stderr, "kmodvm: note: %s\n", note)
	}
	return dir, nil
}

// ramDir returns this user's RAM directory in the first of ramParents
// that has need bytes free, made if need be: a shared RAM file on a full
// tmpfs would kill QEMU with SIGBUS when the guest touched a page.
func ramDir(need int64) (string, error) {
	var err error
	for _, parent := range ramParents() {
		var st syscall.Statfs_t
		if err = syscall.Statfs(parent, &st); err != nil {
			continue
		}
		if free := int64(st.Bavail) * st.Bsize; free < need {
			err = fmt.Errorf("%s: %d MB free, %d MB needed", parent, free>>20, need>>20)
			continue
		}
		dir, derr := ramDirIn(parent)
		if derr != nil {
			err = derr
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

// ErrNoRAMFile is returned (wrapped) by Start when the file of a saveable
// VM's RAM or a restore's RAM copy could not be made (no room in /dev/shm
// or the temporary directory, say): a saved state is sound, the caller
// boots the kernel as a plain VM instead.
var ErrNoRAMFile = errors.New("qemu: no room for a file of the guest's RAM")

// errWrite marks writeSparse's errors of the file written, not of the
// state read.
var errWrite = errors.New("write")

// writeSparse decompresses in into f, which must be empty, skipping its
// all-zero pages, and checks it held size bytes. h gets every byte of the
// file, zero pages included.
func writeSparse(f *os.File, in io.Reader, size int64, h io.Writer) error {
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
		h.Write(buf[:n])
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
