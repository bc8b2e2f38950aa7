package run

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// A hung guest's instruction pointer inside a module under test is named
// from the module's load address: on arm64, with no NMI, it is the one
// pointer to the spinning code. The looks at a CPU are grouped by function,
// the most seen first: a look that caught the spinning CPU in the kernel's
// interrupt code does not hide the module.
func TestHangReportNamesAModulePC(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	ko := plainModule(t, filepath.Join(k.ModulesDir, "kernel", "lib", "crc-itu-t.ko"))
	const base, text = 0xffff800000d10000, 0xffff800000d11000
	kr := &report.Kernel{Modules: []report.Module{{Name: "crc_itu_t", Base: base, Size: 0x8000,
		Sections: map[string]uint64{".text": text}}}}
	const irq = 0xffff800008a00c18
	res := &qemu.Result{IPRegister: "PC", IP: [][]qemu.Location{
		{{Addr: irq}, {Addr: text + 7}, {Addr: text + 9}, {Addr: text + 7}},
		{{Addr: 0xffff800008cda26c}},
	}}
	got := hangReport(res, kr, []symbol.Module{{Path: ko}})
	for _, want := range []string{
		"CPU 0 PC: 0xffff800000d11007 crc_itu_t+0x7",
		"[crc_itu_t]",
		" (3 of 4 looks)\n     also 0xffff800008a00c18 (1 of 4 looks)\n",
		"CPU 1 PC: 0xffff800008cda26c\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hang report lacks %q:\n%s", want, got)
		}
	}
}
