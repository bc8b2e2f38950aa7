package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/kmodvm/kmodvm/internal/privdir"
)

// workDirPrefix names Run's temporary directories.
const workDirPrefix = "kmodvm-qemu-"

// workDirLock is the file in a work directory that its run holds an
// exclusive flock on while the VM lives. The kernel drops the lock when the
// process dies, however it dies, and a lock means the same in every PID
// namespace that shares TMPDIR, which a PID in the name does not.
const workDirLock = ".lock"

// makeWorkDir creates Run's temporary directory, locked until release
// (which also removes it), after removing those that killed processes left
// behind (a process killed with SIGKILL runs no deferred cleanup; its QEMU
// dies with it, but its directory stays). The directory is made and locked
// under a name the sweep ignores, then renamed, so that no sweep ever sees
// it unlocked.
func makeWorkDir() (dir string, release func(), err error) {
	tmp := os.TempDir()
	sweepWorkDirs(tmp)
	stage, err := os.MkdirTemp(tmp, "."+workDirPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("qemu: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(stage, workDirLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err == nil {
		dir = filepath.Join(tmp, workDirPrefix+strings.TrimPrefix(filepath.Base(stage), "."+workDirPrefix))
		err = os.Rename(stage, dir)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(stage)
		return "", nil, fmt.Errorf("qemu: work dir: %w", err)
	}
	return dir, func() {
		os.RemoveAll(dir)
		lock.Close()
	}, nil
}

// sweepWorkDirs removes the work directories in tmp whose lock no process
// holds. A directory without a lock file (another program's, or an older
// kmodvm's), or not this user's own (another user's, a link), is left
// alone.
func sweepWorkDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, workDirPrefix+"*"))
	for _, d := range dirs {
		if privdir.Check(d) != nil {
			continue
		}
		f, err := os.Open(filepath.Join(d, workDirLock))
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(d)
		}
		f.Close()
	}
}
