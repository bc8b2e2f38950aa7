package run

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// linkForGDB links the module m's .ko at the addresses its sections have
// in the guest into dir/<name>.gdb.elf, with the architecture's GNU ld
// (<triplet>-ld, from binutils-<triplet>), and returns the file's path.
// The link applies every relocation, those of the DWARF too: gdb-multiarch
// 13 places an arm64 .ko's functions and lines through add-symbol-file
// without relocating its debug sections, so every function would seem to
// start at the beginning of .text. The kernel's own symbols stay
// unresolved; gdb only reads the result. Only the DWARF is kept
// (<triplet>-objcopy): with the ELF symbols too, gdb puts a second
// breakpoint location at the entry of each arm64 function, before the
// ftrace NOPs that have no line, and stops there without a source line.
func linkForGDB(ctx context.Context, a *arch.Arch, m runcfg.DebugModule, dir string) (string, error) {
	ld, objcopy := a.Triplet+"-ld", a.Triplet+"-objcopy"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, m.Name+".gdb.elf")
	linked := out + ".tmp"
	defer os.Remove(linked)
	args := []string{"-o", linked, "--unresolved-symbols=ignore-all", "--noinhibit-exec", "-e", "0"}
	for _, s := range gdbSections {
		if addr, ok := m.Sections[s]; ok {
			args = append(args, fmt.Sprintf("--section-start=%s=%#x", s, addr))
		}
	}
	args = append(args, m.Path)
	b, err := proc.Command(ctx, ld, args...).CombinedOutput()
	if _, serr := os.Stat(linked); err != nil || serr != nil {
		return "", fmt.Errorf("%s (binutils-%s): %v: %s", ld, a.Triplet, err, strings.TrimSpace(string(b)))
	}
	if b, err := proc.Command(ctx, objcopy, "--strip-all", "--keep-section=.debug_*", linked, out).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s (binutils-%s): %v: %s", objcopy, a.Triplet, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// bigEndian says whether the first of mods whose object can be read is a
// big-endian ELF: the byte order gdb must be told when it has no kernel
// to take it from.
func bigEndian(mods []runcfg.DebugModule) bool {
	for _, m := range mods {
		f, err := elf.Open(m.Path)
		if err != nil {
			continue
		}
		defer f.Close()
		return f.ByteOrder == binary.BigEndian
	}
	return false
}
