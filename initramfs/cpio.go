package initramfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// lockPoll is how often a builder waiting for another one's lock retries.
const lockPoll = 100 * time.Millisecond

// layerWriter writes one newc archive with fixed owners, times and inode
// numbers, so equal inputs give byte-identical layers. It adds the parent
// directories of every entry, which the kernel does not create by itself.
type layerWriter struct {
	bw   *bufio.Writer
	w    cpio.RecordWriter
	dirs map[string]bool
	ino  uint64
}

func newLayerWriter(w io.Writer) *layerWriter {
	bw := bufio.NewWriterSize(w, 1<<20)
	return &layerWriter{bw: bw, w: cpio.Newc.Writer(bw), dirs: map[string]bool{}}
}

func (lw *layerWriter) write(r cpio.Record) error {
	lw.ino++
	r.Info.Ino = lw.ino
	r.Info.NLink = 1
	r = cpio.MakeReproducible(r)
	if err := lw.w.WriteRecord(r); err != nil {
		return fmt.Errorf("write %s to archive: %w", r.Name, err)
	}
	return nil
}

// mkdirs writes records for name's missing parent directories.
func (lw *layerWriter) mkdirs(name string) error {
	dir := path.Dir(name)
	if dir == "." || dir == "/" || lw.dirs[dir] {
		return nil
	}
	if err := lw.mkdirs(dir); err != nil {
		return err
	}
	lw.dirs[dir] = true
	return lw.write(cpio.Directory(dir, 0o755))
}

// dir adds the directory name and its parents.
func (lw *layerWriter) dir(name string) error {
	name = strings.TrimPrefix(name, "/")
	if err := lw.mkdirs(name); err != nil || lw.dirs[name] {
		return err
	}
	lw.dirs[name] = true
	return lw.write(cpio.Directory(name, 0o755))
}

// dirFiles adds the directory name with the regular files of the host's
// directory src in it.
func (lw *layerWriter) dirFiles(name, src string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := lw.dir(name); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := lw.file(path.Join(name, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// file adds a regular file with the given content.
func (lw *layerWriter) file(name string, data []byte, perm uint64) error {
	name = strings.TrimPrefix(name, "/")
	if err := lw.mkdirs(name); err != nil {
		return err
	}
	return lw.write(cpio.StaticRecord(data, cpio.Info{Name: name, Mode: cpio.S_IFREG | perm}))
}

// copyFile adds the host file src as name, keeping its permission bits.
func (lw *layerWriter) copyFile(name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	name = strings.TrimPrefix(name, "/")
	if err := lw.mkdirs(name); err != nil {
		return err
	}
	return lw.write(cpio.Record{ReaderAt: f, Info: cpio.Info{
		Name: name, Mode: cpio.S_IFREG | uint64(fi.Mode().Perm()), FileSize: uint64(fi.Size()),
	}})
}

// close writes the trailer and flushes.
func (lw *layerWriter) close() error {
	if err := cpio.WriteTrailer(lw.w); err != nil {
		return fmt.Errorf("write archive trailer: %w", err)
	}
	return lw.bw.Flush()
}
