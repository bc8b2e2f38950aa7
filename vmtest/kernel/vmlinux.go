package kernel

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/zfile"
	"github.com/pierrec/lz4/v4"
	"github.com/therootcompany/xz"
	"github.com/ulikunitz/xz/lzma"
)

// ErrNoPVH means an image cannot be booted through its PVH entry point.
var ErrNoPVH = errors.New("no PVH entry point")

// xenNotePVH is XEN_ELFNOTE_PHYS32_ENTRY: the note QEMU looks for to boot an
// ELF kernel through PVH.
const xenNotePVH = 18

// HasPVHNote reports whether the ELF file at path carries the PVH entry note.
func HasPVHNote(path string) (bool, error) {
	f, err := openELF(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return false, err
		}
		if hasNote(data, f.ByteOrder, "Xen", xenNotePVH) {
			return true, nil
		}
	}
	return false, nil
}

// openELF opens the ELF file at path, decompressing a .zst one in memory.
func openELF(path string) (*elf.File, error) {
	if !strings.HasSuffix(path, ".zst") {
		return elf.Open(path)
	}
	raw, err := zfile.ReadAll(path)
	if err != nil {
		return nil, err
	}
	return elf.NewFile(bytes.NewReader(raw))
}

// hasNote scans ELF note records for one with the given owner and type.
func hasNote(data []byte, bo binary.ByteOrder, owner string, typ uint32) bool {
	align := func(n uint32) uint32 { return (n + 3) &^ 3 }
	for len(data) >= 12 {
		namesz, descsz, t := bo.Uint32(data), bo.Uint32(data[4:]), bo.Uint32(data[8:])
		data = data[12:]
		if uint64(align(namesz))+uint64(align(descsz)) > uint64(len(data)) {
			return false
		}
		name := string(bytes.TrimRight(data[:namesz], "\x00"))
		if name == owner && t == typ {
			return true
		}
		data = data[align(namesz)+align(descsz):]
	}
	return false
}

// compression is a kernel payload format, recognised by its magic.
type compression struct {
	name  string
	magic []byte
	open  func(io.Reader) (io.Reader, error)
}

// The kernel's xz payload uses the x86 BCJ filter, which only an xz-embedded
// port (therootcompany/xz) decodes; ulikunitz/xz does not.
var compressions = []compression{
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, func(r io.Reader) (io.Reader, error) { return xz.NewReader(r, 0) }},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, func(r io.Reader) (io.Reader, error) {
		d, err := zfile.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}},
	{"gzip", []byte{0x1f, 0x8b, 0x08}, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"lz4", []byte{0x02, 0x21, 0x4c, 0x18}, func(r io.Reader) (io.Reader, error) { return lz4.NewReader(r), nil }},
	{"bzip2", []byte{'B', 'Z', 'h'}, func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }},
	{"lzma", []byte{0x5d, 0x00, 0x00}, func(r io.Reader) (io.Reader, error) { return lzma.NewReader(r) }},
}

// ExtractVmlinux recovers the uncompressed ELF kernel from a bzImage and
// writes it to dst, as the kernel tree's scripts/extract-vmlinux does. QEMU
// boots the result through its PVH note, skipping the in-guest decompression
// that costs seconds under TCG. It fails with ErrNoPVH when the kernel has
// no PVH note (CONFIG_PVH unset); callers then boot the bzImage.
func ExtractVmlinux(bzImage, dst string) error {
	img, err := os.ReadFile(bzImage)
	if err != nil {
		return err
	}
	payload, err := bzPayload(img)
	if err != nil {
		return fmt.Errorf("%s: %w", bzImage, err)
	}
	var lastErr error
	for _, c := range compressions {
		if !bytes.HasPrefix(payload, c.magic) {
			continue
		}
		err := decompressTo(c, payload, dst)
		if err == nil {
			ok, perr := HasPVHNote(dst)
			if perr != nil || !ok {
				os.Remove(dst)
				return fmt.Errorf("%s: %w", bzImage, ErrNoPVH)
			}
			return nil
		}
		lastErr = fmt.Errorf("%s: %s payload: %w", bzImage, c.name, err)
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%s: unknown payload compression (magic % x)", bzImage, payload[:min(6, len(payload))])
	}
	return lastErr
}

// bzPayload returns the compressed payload of a bzImage, located through the
// boot protocol's setup header (payload_offset and payload_length, boot
// protocol 2.08 and later).
func bzPayload(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage (no HdrS setup header)")
	}
	if binary.LittleEndian.Uint16(img[0x206:]) < 0x208 {
		return nil, errors.New("boot protocol older than 2.08 has no payload fields")
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects+1)*512 + int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if start < 0 || n < 8 || start+n > len(img) {
		return nil, fmt.Errorf("payload [%d, +%d) outside the %d-byte image", start, n, len(img))
	}
	return img[start : start+n], nil
}

// decompressTo decompresses payload with c into dst. The kernel appends the
// uncompressed size as a little-endian uint32 to the payload; it is stripped
// before decoding and used to check the result.
func decompressTo(c compression, payload []byte, dst string) error {
	want := binary.LittleEndian.Uint32(payload[len(payload)-4:])
	r, err := c.open(bytes.NewReader(payload[:len(payload)-4]))
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".vmlinux-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if uint32(n) != want {
		return fmt.Errorf("decompressed %d bytes, the image says %d", n, want)
	}
	return os.Rename(tmp.Name(), dst)
}
