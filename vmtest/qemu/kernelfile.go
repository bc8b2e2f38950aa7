package qemu

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// A kernel image whose name ends in ".zst" is kept compressed (the
// kernel cache keeps Debian's PVH vmlinux so: 66 MB become 13 MB for 6.1).
// QEMU reads -kernel only while it starts, so Start decompresses it into
// the VM's work directory, where it lives as long as the VM; the replay
// command of a reproducer decompresses it with zstd(1).
const compressedKernel = ".zst"

// IsCompressedKernel reports whether path is a kernel image that Start
// decompresses for QEMU.
func IsCompressedKernel(path string) bool { return strings.HasSuffix(path, compressedKernel) }

// unpackKernel decompresses the kernel src into dir and returns the path
// of the result.
func unpackKernel(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	defer in.Close()
	zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return "", fmt.Errorf("qemu: kernel %s: %w", src, err)
	}
	defer zr.Close()
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), compressedKernel))
	out, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		os.Remove(dst)
		return "", fmt.Errorf("qemu: kernel %s: %w (a damaged cache entry: fetch the kernel again)", src, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return "", fmt.Errorf("qemu: %w", err)
	}
	return dst, nil
}
