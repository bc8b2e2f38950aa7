package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

func TestSymbolizeNamesTheLeakingFunctionOfAnUnloadedModule(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	ko := plainModule(t, filepath.Join(k.ModulesDir, "kernel", "lib", "crc-itu-t.ko"))
	o, err := symbol.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	name, off, _, _, ok := o.FuncAt(".text", 0)
	if !ok || name != "crc_itu_t" || off != 0 {
		t.Fatalf("%s: .text starts with %q+%#x, want crc_itu_t", ko, name, off)
	}
	const base, text = 0xffffffffc0400000, 0xffffffffc0401000
	kr := &report.Kernel{
		Modules: []report.Module{{Name: "crc_itu_t", Base: base, Size: 0x8000, Sections: map[string]uint64{".text": text, ".init.text": text + 0x4000}}},
		Findings: []report.Finding{{Kind: "memory leak", Title: "memory leak", Frames: []report.Frame{
			{Func: "kmalloc_trace", Offset: 0x20, Size: 0x40},
			{Addr: text + 7},
			{Addr: 0xffffffff81000000}, // the kernel's, left alone
		}}},
	}
	symbolize(k, kr, []symbol.Module{{Path: ko}})
	f := kr.Findings[0]
	if f.Title != "memory leak in crc_itu_t" || f.Frames[1].Func != "crc_itu_t" || f.Frames[1].Offset != 7 || f.Frames[1].Module != "crc_itu_t" {
		t.Errorf("after symbolizing: %q, frame %+v", f.Title, f.Frames[1])
	}
	if f.Frames[2].Func != "" {
		t.Errorf("a kernel address was named %q", f.Frames[2].Func)
	}
}

// plainModule returns the module at ko, decompressed into a temporary file
// when the cache keeps it as ko.zst (bookworm's and bullseye's kernels).
func plainModule(t *testing.T, ko string) string {
	t.Helper()
	if _, err := os.Stat(ko); err == nil {
		return ko
	}
	b, err := os.ReadFile(ko + ".zst")
	if err != nil {
		t.Fatal(err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b, err = d.DecodeAll(b, nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(ko))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
