package debianprov

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
)

// armImageMagic is "ARM\x64" at offset 56 of an arm64 Image header
// (Documentation/arch/arm64/booting.rst).
const armImageMagic = 0x644d5241

// armImage returns the path of an uncompressed arm64 Image for the
// vmlinuz at path: path itself when it is one (Debian's 6.1), else the
// gzip stream it holds (QEMU boots a compressed arm64 kernel only through
// firmware, not with -kernel's direct boot) decompressed into out.
func armImage(path, out string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	if isArmImage(head) {
		return path, nil
	}
	if !bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		return "", fmt.Errorf("%s: neither an arm64 Image nor gzip-compressed", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	image, err := io.ReadAll(zr)
	if err != nil {
		return "", fmt.Errorf("decompress %s: %w", path, err)
	}
	if !isArmImage(image) {
		return "", fmt.Errorf("%s: the decompressed kernel is not an arm64 Image", path)
	}
	return out, atomicfile.WriteBytes(out, image)
}

func isArmImage(b []byte) bool {
	return len(b) >= 64 && binary.LittleEndian.Uint32(b[56:]) == armImageMagic
}
