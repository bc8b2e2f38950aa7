// Package zfile reads the zstd-compressed files kmodvm's cache keeps (a
// Debian entry's PVH vmlinux and arm64 Image): whole into memory, or
// unpacked into another file. Its NewReader is every zstd decoder kmodvm
// makes, so that all of them decode with the same options.
package zfile

import (
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// NewReader returns a decoder of r. It decodes on the calling goroutine
// (concurrency 1: no blocks decoded ahead in goroutines of its own): the
// readers are streams read once, often beside VMs that want the CPUs.
// Close releases it.
func NewReader(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
}

// Open returns a reader of the decompressed contents of the file at path.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &reader{zr: zr, f: f}, nil
}

type reader struct {
	zr *zstd.Decoder
	f  *os.File
}

func (r *reader) Read(p []byte) (int, error) { return r.zr.Read(p) }

func (r *reader) Close() error {
	r.zr.Close()
	return r.f.Close()
}

// ReadAll returns the decompressed contents of the file at path.
func ReadAll(path string) ([]byte, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Unpack writes the decompressed contents of src to dst, which it removes
// again when it fails.
func Unpack(src, dst string) error {
	r, err := Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}
