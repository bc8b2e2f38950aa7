package agent

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/internal/zfile"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// compressedFinit reports whether finit_module takes
// MODULE_INIT_COMPRESSED_FILE (Linux 6.4+). Older kernels reject the
// unknown flag with EINVAL before looking at the fd; newer ones get as far
// as the invalid fd. Probing once keeps an EINVAL returned by a module's
// own init from being mistaken for "flag unsupported" and retried.
func compressedFinit() bool {
	err := unix.FinitModule(-1, "", unix.MODULE_INIT_COMPRESSED_FILE)
	return errors.Is(err, unix.EBADF)
}

// loader loads modules into the running kernel.
type loader struct {
	compressed bool // finit_module decompresses by itself
}

// load loads one module. A dependency that is already loaded (EEXIST) is
// not an error: it may be built in to another module's load or loaded twice
// by two modules under test.
func (l *loader) load(m event.Module) error {
	f, err := os.Open(m.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if !isCompressed(m.Path) {
		err = unix.FinitModule(int(f.Fd()), m.Params, 0)
	} else {
		err = l.loadCompressed(f, m)
	}
	if errors.Is(err, unix.EEXIST) && m.Dep {
		return nil
	}
	return err
}

func (l *loader) loadCompressed(f *os.File, m event.Module) error {
	if l.compressed {
		err := unix.FinitModule(int(f.Fd()), m.Params, unix.MODULE_INIT_COMPRESSED_FILE)
		// EOPNOTSUPP: the flag is known but CONFIG_MODULE_DECOMPRESS is off,
		// or this compression is not built in.
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return err
		}
	}
	image, err := decompress(f, m.Path)
	if err != nil {
		return fmt.Errorf("decompress %s: %w", m.Path, err)
	}
	return unix.InitModule(image, m.Params)
}

func isCompressed(path string) bool {
	switch filepath.Ext(path) {
	case ".xz", ".zst", ".gz":
		return true
	}
	return false
}

func decompress(r io.Reader, path string) ([]byte, error) {
	var zr io.Reader
	switch filepath.Ext(path) {
	case ".xz":
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		zr = x
	case ".zst":
		z, err := zfile.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		zr = z
	case ".gz":
		g, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		zr = g
	default:
		return nil, fmt.Errorf("unknown compression %q", filepath.Ext(path))
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, zr); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// unload removes a module. A module still in use right after its tests may
// be releasing references from deferred work, so EBUSY/EAGAIN is retried
// for a moment before it is reported (as a refcount leak, by the host).
func unload(name string) error {
	name = moddep.Name(name)
	var err error
	for try := 0; try < 10; try++ {
		err = unix.DeleteModule(name, unix.O_NONBLOCK)
		if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// errnoOf extracts the errno from err, or 0.
func errnoOf(err error) int {
	var e unix.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	return 0
}

// moduleName is the name the kernel knows m by: its configured name, or
// its file's name without the .ko (and compression) suffix.
func moduleName(m event.Module) string {
	if m.Name != "" {
		return m.Name
	}
	base := filepath.Base(m.Path)
	if i := strings.Index(base, ".ko"); i > 0 {
		base = base[:i]
	}
	return base
}
