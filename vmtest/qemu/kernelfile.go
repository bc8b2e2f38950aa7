package qemu

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/zfile"
	"github.com/kmodvm/kmodvm/vmtest/arch"
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
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), compressedKernel))
	if err := zfile.Unpack(src, dst); err != nil {
		return "", fmt.Errorf("qemu: kernel: %w (a damaged cache entry: fetch the kernel again)", err)
	}
	return dst, nil
}

// isELF reports whether the compressed kernel at path is an ELF file (a
// vmlinux), from its first bytes.
func isELF(path string) bool {
	r, err := zfile.Open(path)
	if err != nil {
		return false
	}
	defer r.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(r, magic)
	return err == nil && string(magic) == "\x7fELF"
}

// pvhStub writes into dir, for a VM that restores a PVH-booted guest, a
// minimal ELF with a PVH entry note in place of the kernel, and returns its
// path. A restore needs QEMU started as the saved VM was, -kernel
// included, but not the kernel's bytes: QEMU loads a PVH kernel into the
// guest's RAM and fw_cfg, which the guest read while it booted, and the
// incoming state overwrites that RAM (fw_cfg's contents are not part of
// it). The stub spares each restore the kernel's decompression (about
// 60 ms for 6.1's 66 MB) and QEMU's read of it. It is of the kernel's
// class and machine (e): QEMU loads only its target's ELF machine.
func pvhStub(dir string, e arch.ELF) (string, error) {
	const (
		base     = 0x100000   // where the stub "loads": 1 MiB
		noteSize = 12 + 4 + 4 // header, "Xen\0", the 32-bit entry
	)
	le := binary.LittleEndian
	var b bytes.Buffer
	// An ELF header of a little-endian executable with two program
	// headers, a PT_LOAD of the whole file and the PT_NOTE.
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(e.Class), 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if e.Class == elf.ELFCLASS64 {
		const ehdrSize, phdrSize, noteOff = 64, 56, 64 + 2*56
		end := uint64(noteOff + noteSize)
		binary.Write(&b, le, struct {
			Type, Machine                                   uint16
			Version                                         uint32
			Entry, Phoff, Shoff                             uint64
			Flags                                           uint32
			Ehsize, Phentsize, Phnum, Shentsize, Shnum, Shs uint16
		}{2, uint16(e.Machine), 1, base, ehdrSize, 0, 0, ehdrSize, phdrSize, 2, 64, 0, 0})
		type phdr struct {
			Type, Flags                             uint32
			Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
		}
		binary.Write(&b, le, phdr{1, 5, 0, base, base, end, end, 0x1000})
		binary.Write(&b, le, phdr{4, 4, noteOff, base + noteOff, base + noteOff, noteSize, noteSize, 4})
	} else {
		const ehdrSize, phdrSize, noteOff = 52, 32, 52 + 2*32
		end := uint32(noteOff + noteSize)
		binary.Write(&b, le, struct {
			Type, Machine                                   uint16
			Version, Entry, Phoff, Shoff, Flags             uint32
			Ehsize, Phentsize, Phnum, Shentsize, Shnum, Shs uint16
		}{2, uint16(e.Machine), 1, base, ehdrSize, 0, 0, ehdrSize, phdrSize, 2, 40, 0, 0})
		type phdr struct {
			Type, Off, Vaddr, Paddr, Filesz, Memsz, Flags, Align uint32
		}
		binary.Write(&b, le, phdr{1, 0, base, base, end, end, 5, 0x1000})
		binary.Write(&b, le, phdr{4, noteOff, base + noteOff, base + noteOff, noteSize, noteSize, 4, 4})
	}
	// XEN_ELFNOTE_PHYS32_ENTRY (18), owner "Xen": the PVH entry point.
	binary.Write(&b, le, []uint32{4, 4, xenNotePhys32Entry})
	b.WriteString("Xen\x00")
	binary.Write(&b, le, uint32(base))
	p := filepath.Join(dir, "pvh-stub.elf")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("qemu: %w", err)
	}
	return p, nil
}

// xenNotePhys32Entry is the ELF note type of a PVH entry point.
const xenNotePhys32Entry = 18
