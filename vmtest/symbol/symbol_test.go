package symbol_test

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// testdata/inline.o, as inline.c says: outer (.text, 0x16 bytes) with
// scale inlined at line 19, setup (.init.text) calling it at line 28.
const fixture = "testdata/inline.o"

// testdata/inline-386.o is inline.c built for i386 (ELF32, REL
// relocations), not position-independent, as a kernel module's code is:
//
//	gcc -m32 -fno-pic -g -O2 -fno-asynchronous-unwind-tables -fdebug-prefix-map=$PWD=/build/mod \
//	    -c -o inline-386.o inline.c
const fixture386 = "testdata/inline-386.o"

// testdata/inline-riscv64.o is inline.c built for riscv64 by trixie's
// gcc-14 as the kernel builds a module's code (medany, no relaxation);
// its DWARF still holds line advances and lengths as ADD/SUB pairs:
//
//	riscv64-linux-gnu-gcc-14 -mcmodel=medany -mno-relax -g -O2 -fno-asynchronous-unwind-tables \
//	    -fdebug-prefix-map=$PWD=/build/mod -c -o inline-riscv64.o inline.c
const fixtureRiscv64 = "testdata/inline-riscv64.o"

func open(t *testing.T, path string) *symbol.Object {
	t.Helper()
	o, err := symbol.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !o.DebugInfo() {
		t.Fatalf("%s: no debug info", path)
	}
	return o
}

func TestLinesNameInlinedFunctionsInnermostFirst(t *testing.T) {
	o := open(t, fixture)
	start, ok := o.Func("outer", 0)
	if !ok {
		t.Fatal("no function outer")
	}
	got, err := o.Lines(start + 9) // imul: scale's a * sink
	if err != nil {
		t.Fatal(err)
	}
	want := []symbol.Source{{Func: "scale", File: "/build/mod/inline.c", Line: 14}, {Func: "outer", File: "/build/mod/inline.c", Line: 19}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outer+0x9: %+v, want %+v", got, want)
	}
}

// A .ko's sections all start at 0: offset 6 of .text and of .init.text
// are different code.
func TestSectionsOfARelocatableObjectDoNotOverlap(t *testing.T) {
	o := open(t, fixture)
	for _, c := range []struct {
		section string
		off     uint64
		want    symbol.Source
	}{
		{".text", 0xc, symbol.Source{Func: "outer", File: "/build/mod/inline.c", Line: 21}},
		{".init.text", 0xb, symbol.Source{Func: "setup", File: "/build/mod/inline.c", Line: 28}},
		{".init.text", 0xe, symbol.Source{Func: "setup", File: "/build/mod/inline.c", Line: 29}},
	} {
		addr, ok := o.Addr(c.section, c.off)
		if !ok {
			t.Fatalf("no %s+%#x", c.section, c.off)
		}
		got, err := o.Lines(addr)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s+%#x: %+v, %v; want %+v", c.section, c.off, got, err, c.want)
		}
	}
	if _, ok := o.Addr(".init.text", 0xf); ok {
		t.Error(".init.text+0xf, past the section's end, has an address")
	}
}

// Every address of every code section resolves as binutils' addr2line -i
// resolves it (the behaviour Lines follows), in the x86-64 object (RELA
// relocations of ELF64) and its i386 build (REL of ELF32: the addends in
// place), whose two code sections overlap unless the relocations of its
// DWARF are applied, and its riscv64 build, whose line table advances
// nowhere unless its ADD16/SUB16 pairs are.
func TestLinesMatchAddr2line(t *testing.T) {
	for _, path := range []string{fixture, fixture386, fixtureRiscv64} {
		t.Run(filepath.Base(path), func(t *testing.T) { compareAddr2line(t, path, nil) })
	}
}

// compareAddr2line compares Lines with addr2line -i -f -j SECTION at
// every address of the code sections (or only of funcs, when given).
func compareAddr2line(t *testing.T, path string, funcs []string) {
	t.Helper()
	addr2line := binutil(t, path, "addr2line")
	if _, err := exec.LookPath(addr2line); err != nil {
		t.Skipf("no %s (binutils)", addr2line)
	}
	o := open(t, path)
	checked := 0
	for _, sec := range codeSections(t, path, funcs) {
		if sec.end <= sec.start {
			continue // addr2line given no address reads them from stdin
		}
		var addrs []string
		for off := sec.start; off < sec.end; off++ {
			addrs = append(addrs, fmt.Sprintf("%#x", off))
		}
		out, err := exec.Command(addr2line, append([]string{"-a", "-i", "-f", "-e", path, "-j", sec.name}, addrs...)...).Output()
		if err != nil {
			t.Fatalf("addr2line: %v", err)
		}
		want := parseAddr2line(t, out, len(addrs))
		for i, off := 0, sec.start; off < sec.end; i, off = i+1, off+1 {
			addr, ok := o.Addr(sec.name, off)
			if !ok {
				t.Fatalf("%s+%#x has no address", sec.name, off)
			}
			got, err := o.Lines(addr)
			if err != nil {
				t.Fatalf("%s+%#x: %v", sec.name, off, err)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%s+%#x: %+v, addr2line says %+v", sec.name, off, got, want[i])
			}
			checked++
		}
	}
	// Functions of size 0 are no comparison: a symbol table of only
	// those must not pass for a match.
	if checked == 0 {
		t.Fatalf("%s: no address compared with addr2line (functions %v)", path, funcs)
	}
	t.Logf("%d addresses of %s match addr2line", checked, path)
}

// binutil is the binutils program tool that reads the object at path: the
// host's, or the cross binutils' of its architecture (the host's
// addr2line names an armhf module's lines "$a" at line 0, its ARM mapping
// symbols, not having applied R_ARM_ABS32 to the DWARF).
func binutil(t *testing.T, path, tool string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if a := arch.ByMachine(f.Machine); a != nil {
		return a.CrossCompile() + tool
	}
	return tool
}

type span struct {
	name       string
	start, end uint64
}

// localEntryField is readelf's note of a POWER function's local entry point.
var localEntryField = regexp.MustCompile(`\[<localentry>: \d+\]`)

// codeSections lists the functions of path (of funcs, when given) as
// spans of their sections, from readelf. The padding between functions
// is left out: no frame points there, and binutils' answers for it
// depend on how it reads the line table's gaps.
func codeSections(t *testing.T, path string, funcs []string) []span {
	t.Helper()
	out, err := exec.Command(binutil(t, path, "readelf"), "-W", "-S", "-s", path).Output()
	if err != nil {
		t.Skipf("readelf: %v", err)
	}
	secs := map[int]string{}
	var spans []span
	for _, l := range strings.Split(string(out), "\n") {
		// POWER's ELFv2 functions with a global entry point carry
		// "[<localentry>: 8]" among the fields.
		f := strings.Fields(localEntryField.ReplaceAllString(strings.NewReplacer("[ ", "[").Replace(l), ""))
		if len(f) >= 8 && strings.HasPrefix(f[0], "[") && f[2] == "PROGBITS" && strings.Contains(f[1], "text") {
			idx, _ := strconv.Atoi(strings.Trim(f[0], "[]"))
			secs[idx] = f[1]
		}
		if len(f) == 8 && f[3] == "FUNC" {
			idx, err := strconv.Atoi(f[6])
			sec, ok := secs[idx]
			// __pfx_ symbols are the NOPs before a function for call
			// thunks: no code runs there.
			if err != nil || !ok || (funcs != nil && !contains(funcs, f[7])) || strings.HasPrefix(f[7], "__pfx_") {
				continue
			}
			val, _ := strconv.ParseUint(f[1], 16, 64)
			size, _ := strconv.ParseUint(f[2], 10, 64)
			spans = append(spans, span{sec, val, val + size})
		}
	}
	if len(spans) == 0 {
		t.Fatalf("%s: no code found", path)
	}
	return spans
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseAddr2line reads n answers of addr2line -a -i -f: each the address,
// then "func\nfile:line" pairs, innermost first. An address without a line
// ("??:0") has none.
func parseAddr2line(t *testing.T, out []byte, n int) [][]symbol.Source {
	t.Helper()
	var answers [][]symbol.Source
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := 0; i < len(lines); {
		if !strings.HasPrefix(lines[i], "0x") {
			t.Fatalf("addr2line: line %d: %q, want an address", i, lines[i])
		}
		i++
		var answer []symbol.Source
		for ; i+1 < len(lines) && !strings.HasPrefix(lines[i], "0x"); i += 2 {
			loc := lines[i+1]
			if j := strings.Index(loc, " (discriminator"); j >= 0 {
				loc = loc[:j]
			}
			file, line, _ := strings.Cut(loc, ":")
			ln, _ := strconv.Atoi(line)
			if file == "??" {
				continue
			}
			fn := lines[i]
			if fn == "??" {
				fn = ""
			}
			answer = append(answer, symbol.Source{Func: fn, File: file, Line: ln})
		}
		answers = append(answers, answer)
	}
	if len(answers) != n {
		t.Fatalf("addr2line answered %d of %d addresses", len(answers), n)
	}
	return answers
}

// A finding's frames in the module get the module's source lines, named
// under the module's directory; a return address gets the line of its
// call; a bare address of the unloaded module gets its function first.
func TestSymbolizerResolvesTheModulesFrames(t *testing.T) {
	ko := filepath.Join(t.TempDir(), "inline.ko")
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ko, b, 0o644); err != nil {
		t.Fatal(err)
	}
	const text, init = 0xffffffffc0401000, 0xffffffffc0405000
	kr := &report.Kernel{
		Modules: []report.Module{{Name: "inline", Base: text, Size: 0x8000, Sections: map[string]uint64{".text": text, ".init.text": init}}},
		Findings: []report.Finding{{Kind: "memory leak", Title: "memory leak",
			PC: &report.Frame{Func: "outer", Offset: 9, Size: 0x16, Module: "inline"},
			Frames: []report.Frame{
				{Func: "kmalloc_trace", Offset: 0x20, Size: 0x40},
				{Addr: init + 0xb}, // the return address of setup's call of outer
				{Func: "do_one_initcall", Offset: 0x40, Size: 0x200},
			}}},
	}
	s := &symbol.Symbolizer{Modules: []symbol.Module{{Path: ko, BuildDir: "/build", Source: "src"}}}
	s.Kernel(kr)
	f := kr.Findings[0]
	wantPC := report.Frame{Func: "outer", Offset: 9, Size: 0x16, Module: "inline", File: "src/mod/inline.c", Line: 14,
		Inline: []report.Source{{Func: "scale", File: "src/mod/inline.c", Line: 14}, {Func: "outer", File: "src/mod/inline.c", Line: 19}}}
	if !reflect.DeepEqual(*f.PC, wantPC) {
		t.Errorf("PC: %+v\nwant %+v", *f.PC, wantPC)
	}
	if got := f.PC.Where(); got != "src/mod/inline.c:14 (scale, inlined in outer at src/mod/inline.c:19)" {
		t.Errorf("PC.Where() = %q", got)
	}
	wantCall := report.Frame{Func: "setup", Offset: 0xb, Size: 0xf, Module: "inline", Addr: init + 0xb, File: "src/mod/inline.c", Line: 28}
	if !reflect.DeepEqual(f.Frames[1], wantCall) {
		t.Errorf("frame 1: %+v\nwant %+v", f.Frames[1], wantCall)
	}
	if f.Title != "memory leak in setup" {
		t.Errorf("title %q", f.Title)
	}
	if f.Frames[0].File != "" || f.Frames[2].File != "" {
		t.Errorf("the kernel's frames got lines without a vmlinux: %+v", f.Frames)
	}
	if src, ok := f.Source(); !ok || src.Func != "outer" {
		t.Errorf("Source() = %+v, %v; want the PC", src, ok)
	}
}

// A bare address the collector placed in an instance of a module, since
// unloaded, is named from that instance, whatever module the run's list
// has at that address now (the KUnit module loaded where the driver's
// init code was).
func TestSymbolizerNamesAPlacedFrameFromItsInstance(t *testing.T) {
	ko := filepath.Join(t.TempDir(), "inline.ko")
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ko, b, 0o644); err != nil {
		t.Fatal(err)
	}
	const init = 0xffffffffc0405000
	kr := &report.Kernel{
		Modules: []report.Module{{Name: "later", Base: init - 0x1000, Size: 0x8000, Sections: map[string]uint64{".text": init - 0x1000}}},
	}
	// Two objects its init leaked, in two loads at the same place.
	for range 2 {
		kr.Findings = append(kr.Findings, report.Finding{Kind: "memory leak", Title: "memory leak", Step: "load inline", Bytes: 32,
			Frames: []report.Frame{{Addr: init + 0xb, Module: "inline", Section: ".init.text", SectionAddr: init}}})
	}
	bugs, _ := report.Dedup(kr.Findings) // the verdict's reasons, as the collector gives them
	kr.Error = bugs[0].Reason()
	s := &symbol.Symbolizer{Modules: []symbol.Module{{Path: ko, BuildDir: "/build", Source: "src"}, {Path: filepath.Join(t.TempDir(), "later.ko")}}}
	s.Kernel(kr)
	for _, f := range kr.Findings {
		if fr := f.Frames[0]; fr.Func != "setup" || fr.Offset != 0xb || fr.Module != "inline" || fr.Where() != "src/mod/inline.c:28" {
			t.Errorf("frame: %+v, %q", fr, fr.Where())
		}
		if f.Title != "memory leak in setup" {
			t.Errorf("title %q", f.Title)
		}
	}
	if want := "memory leak in setup (×2, 64 bytes during load inline)"; kr.Error != want {
		t.Errorf("verdict %q, want %q", kr.Error, want)
	}
}

// The kernel's frames resolve through a linked vmlinux with debug info,
// at the addresses it was linked at (kmodvm boots with nokaslr). A linked
// inline.c stands in for it.
func TestSymbolizerResolvesTheKernelsFramesThroughVmlinux(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	tree := t.TempDir()
	vmlinux := filepath.Join(tree, "vmlinux")
	cmd := exec.Command("gcc", "-g", "-O2", "-no-pie", "-nostdlib", "-Wl,-e,outer", "-fno-asynchronous-unwind-tables",
		"-fdebug-prefix-map="+mustAbs(t, "testdata")+"="+tree, "-o", vmlinux, "testdata/inline.c")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	o := open(t, vmlinux)
	start, ok := o.Func("setup", 0)
	if !ok {
		t.Fatal("no setup")
	}
	kr := &report.Kernel{Findings: []report.Finding{{Kind: "WARNING", Title: "WARNING in outer",
		PC:     &report.Frame{Func: "outer", Offset: 9},
		Frames: []report.Frame{{Addr: start + 0xb}}}}}
	s := &symbol.Symbolizer{Vmlinux: vmlinux, Trees: []string{tree}}
	s.Kernel(kr)
	f := kr.Findings[0]
	if got := f.PC.Where(); got != "testdata/inline.c:14 (scale, inlined in outer at testdata/inline.c:19)" {
		t.Errorf("PC: %q", got)
	}
	if fr := f.Frames[0]; fr.Func != "setup" || fr.Offset != 0xb || fr.Where() != "testdata/inline.c:28" {
		t.Errorf("frame: %+v, %q", fr, fr.Where())
	}
	if _, ok := f.Source(); ok {
		t.Error("Source() found a module frame in the kernel's")
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// module_init(f) makes init_module a global alias of f: an address in f
// is named f, as the source and the kernel's own reports call it.
func TestFuncAtPrefersTheFunctionsOwnNameToAnAlias(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "alias.c")
	// What module_init(drv_init) and module_exit(drv_exit) expand to.
	code := "static volatile int sink;\n" +
		"static int __attribute__((section(\".init.text\"))) drv_init(void) { sink = 1; return 0; }\n" +
		"static void drv_exit(void) { sink = 0; }\n" +
		"int init_module(void) __attribute__((alias(\"drv_init\")));\n" +
		"void cleanup_module(void) __attribute__((alias(\"drv_exit\")));\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "alias.o")
	if out, err := exec.Command("gcc", "-g", "-O2", "-c", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	o := open(t, obj)
	for sec, want := range map[string]string{".init.text": "drv_init", ".text": "drv_exit"} {
		if name, _, _, _, ok := o.FuncAt(sec, 1); !ok || name != want {
			t.Errorf("FuncAt(%s, 1) = %q, %v; want %s", sec, name, ok, want)
		}
	}
}
