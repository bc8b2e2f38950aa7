package run

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// One command attaches: the kernel's symbols if any, the stub, each
// module at its sections (.text positional, as every gdb takes it) and
// its sources where the DWARF's build directory was.
func TestDebuggerCommandLoadsModulesAtTheirSections(t *testing.T) {
	d := runcfg.Debugger{Address: "127.0.0.1:1234", Vmlinux: "/k/vmlinux", Modules: []runcfg.DebugModule{
		{Name: "m", Path: "/out/m.ko", BuildDir: "/tmp/b", Source: "/src/m",
			Sections: map[string]uint64{".text": 0xffffffffc0201000, ".data": 0xffffffffc0204020}},
		{Name: "gone", Path: "/out/gone.ko", Sections: map[string]uint64{}},
	}}
	got := debuggerCommand(d)
	want := "gdb -q -ex 'set confirm off' -ex 'set pagination off' /k/vmlinux -ex 'target remote 127.0.0.1:1234'" +
		" -ex 'add-symbol-file /out/m.ko 0xffffffffc0201000 -s .data 0xffffffffc0204020' -ex 'set substitute-path /tmp/b /src/m'"
	if got != want {
		t.Errorf("command:\n got %s\nwant %s", got, want)
	}
	if strings.Contains(got, "gone.ko") {
		t.Errorf("a module without a .text address is loaded: %s", got)
	}
}

// Without a kernel to read the byte order from, gdb is told a big-endian
// module's (s390x's): it would read the registers in the host's order.
func TestDebuggerCommandSetsABigEndianModulesByteOrder(t *testing.T) {
	for _, c := range []struct {
		order   binary.ByteOrder
		data    elf.Data
		vmlinux string
		want    bool
	}{
		{binary.BigEndian, elf.ELFDATA2MSB, "", true},
		{binary.LittleEndian, elf.ELFDATA2LSB, "", false},
		{binary.BigEndian, elf.ELFDATA2MSB, "/k/vmlinux", false},
	} {
		ko := filepath.Join(t.TempDir(), "m.ko")
		h := elf.Header64{Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_S390), Version: 1, Ehsize: 64}
		copy(h.Ident[:], elf.ELFMAG)
		h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(c.data), 1
		var b bytes.Buffer
		if err := binary.Write(&b, c.order, h); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ko, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		d := runcfg.Debugger{Address: "127.0.0.1:1234", Vmlinux: c.vmlinux,
			Modules: []runcfg.DebugModule{{Name: "m", Path: ko, Sections: map[string]uint64{".text": 0x3ff80000000}}}}
		got := debuggerCommand(d)
		if strings.Contains(got, "'set endian big' -ex 'target remote") != c.want {
			t.Errorf("%v, vmlinux %q: %s; want set endian big: %v", c.data, c.vmlinux, got, c.want)
		}
	}
}
