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

// riscvImageMagic is "RSC\x05" at offset 56 of a RISC-V Image header
// (Documentation/arch/riscv/boot-image-header.rst), the place and size of
// arm64's magic.
const riscvImageMagic = 0x05435352

// flatImage returns the path of an uncompressed arm64 or RISC-V Image
// (riscv says which) for the vmlinuz at path: path itself when it is one
// (Debian's arm64 6.1), else the gzip stream it holds (QEMU boots a
// compressed kernel of either only through firmware, not with -kernel's
// direct boot) decompressed into out.
func flatImage(path, out string, riscv bool) (string, error) {
	isImage, what := isArmImage, "an arm64 Image"
	if riscv {
		isImage, what = isRiscvImage, "a RISC-V Image"
	}
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
	if isImage(head) {
		return path, nil
	}
	if !bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		return "", fmt.Errorf("%s: neither %s nor gzip-compressed", path, what)
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
	if !isImage(image) {
		return "", fmt.Errorf("%s: the decompressed kernel is not %s", path, what)
	}
	return out, atomicfile.WriteBytes(out, image)
}

func isArmImage(b []byte) bool {
	return len(b) >= 64 && binary.LittleEndian.Uint32(b[56:]) == armImageMagic
}

func isRiscvImage(b []byte) bool {
	return len(b) >= 64 && binary.LittleEndian.Uint32(b[56:]) == riscvImageMagic
}
