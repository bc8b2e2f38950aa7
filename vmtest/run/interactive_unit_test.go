package run

import (
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
