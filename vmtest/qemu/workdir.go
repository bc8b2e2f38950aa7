package qemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// workDirPrefix names Run's temporary directories; the creator's pid follows
// it, so that a later Run can tell a directory whose process died.
const workDirPrefix = "kmodvm-qemu-"

// makeWorkDir creates Run's temporary directory, after removing those that
// killed processes left behind (a process killed with SIGKILL runs no
// deferred cleanup; its QEMU dies with it, but its directory stays).
func makeWorkDir() (string, error) {
	sweepWorkDirs(os.TempDir())
	dir, err := os.MkdirTemp("", workDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	return dir, nil
}

// sweepWorkDirs removes the work directories in tmp whose creator is gone.
func sweepWorkDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, workDirPrefix+"*-*"))
	for _, d := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), workDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}
