package event

import "testing"

func TestLoadedModuleSection(t *testing.T) {
	// The example driver on 6.1 (/proc/modules and sysfs), its init code
	// apart from its core.
	core := LoadedModule{Base: 0xffffffffa0008000, Size: 0x5000, Sections: map[string]uint64{
		".text": 0xffffffffa0008000, ".note.gnu.build-id": 0xffffffffa0009400,
		".rodata": 0xffffffffa000a000, ".init.text": 0xffffffffa0010000}}
	sized := core
	sized.Sizes = map[string]uint64{".text": 0x1200, ".note.gnu.build-id": 0x24, ".rodata": 0x300, ".init.text": 0x1a0}
	cases := []struct {
		name  string
		m     *LoadedModule
		addr  uint64
		sec   string
		start uint64
	}{
		{"core, no sizes: nearest below", &core, 0xffffffffa0008066, ".text", 0xffffffffa0008000},
		{"core, no sizes: a note", &core, 0xffffffffa0009410, ".note.gnu.build-id", 0xffffffffa0009400},
		{"core, no sizes: above .rodata", &core, 0xffffffffa000a010, ".rodata", 0xffffffffa000a000},
		{"init, no sizes: outside the core", &core, 0xffffffffa0010066, "", 0},
		{"sized: .text", &sized, 0xffffffffa0008066, ".text", 0xffffffffa0008000},
		{"sized: init code", &sized, 0xffffffffa0010066, ".init.text", 0xffffffffa0010000},
		{"sized: past .init.text", &sized, 0xffffffffa00101a0, "", 0},
		{"sized: a gap in the core", &sized, 0xffffffffa0009300, "", 0},
		{"nil", nil, 0xffffffffa0008066, "", 0},
	}
	for _, c := range cases {
		sec, start, ok := c.m.Section(c.addr)
		if sec != c.sec || start != c.start || ok != (c.sec != "") {
			t.Errorf("%s: Section(%#x) = %q %#x %v, want %q %#x", c.name, c.addr, sec, start, ok, c.sec, c.start)
		}
		if c.m.Contains(c.addr) != ok {
			t.Errorf("%s: Contains disagrees with Section", c.name)
		}
	}
}
