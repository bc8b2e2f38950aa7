package qemu

import (
	"debug/elf"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// The stub must be an ELF of the kernel's own class and machine, which
// debug/elf reads back, with the PVH entry note QEMU looks for.
func TestPVHStubIsAnELFOfTheKernelsKind(t *testing.T) {
	for _, a := range arch.All() {
		if a.Image != arch.PVHOrBzImage {
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			p, err := pvhStub(t.TempDir(), a.ELF)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Class != a.ELF.Class || f.Machine != a.ELF.Machine || f.Entry != 0x100000 {
				t.Errorf("stub is %v %v entry %#x; want %v %v", f.Class, f.Machine, f.Entry, a.ELF.Class, a.ELF.Machine)
			}
			var note []byte
			for _, p := range f.Progs {
				if p.Type == elf.PT_NOTE {
					note = make([]byte, p.Filesz)
					if _, err := p.ReadAt(note, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(note) != 20 || f.ByteOrder.Uint32(note[8:]) != xenNotePhys32Entry || string(note[12:16]) != "Xen\x00" ||
				f.ByteOrder.Uint32(note[16:]) != 0x100000 {
				t.Errorf("PVH note % x", note)
			}
		})
	}
}
