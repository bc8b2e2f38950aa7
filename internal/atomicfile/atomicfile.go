// Package atomicfile writes files that readers see whole or not at all: the
// content goes to a temporary file in the same directory, which is synced
// and renamed into place, and the directory synced. kmodvm's caches and reports are shared between processes and
// must never show half a file after a crash.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write creates path's directory if needed and writes path through write,
// which gets the temporary file (an *os.File, so that io.Copy into it can
// use copy_file_range). The file is readable by all (0644): caches and
// reports are not secret, and QEMU may run as another user.
func Write(path string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	// Without the fsyncs a crash can leave path renamed into place but
	// empty or short (the rename reached the disk before the data), or the
	// old file back after a caller went on as if the new one were there.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteBytes writes data to path atomically.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
