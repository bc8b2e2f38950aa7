package symbol_test

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// The real reports of testdata/faultmod (vmtest/dmesg/testdata/report),
// and the line of faultmod.c each one's faulting instruction is on.
var faultmodLines = []struct {
	log  string
	line int
	what string
	// in holds the line in another directory's logs, where it differs.
	in map[string]int
}{
	{"warn", 168, "WARN(1, ...)", nil},
	// GCC puts the load of obj->value (faultmod_oops, inlined) on the
	// caller's line, where it is widened to long: addr2line says 171 too.
	// On i386 and armhf long is the int's width: the load stays on line 49,
	// "return obj->value;" in faultmod_oops.
	// On s390 the NULL read reads the lowcore at address 0 (and
	// LIST_POISON1 is 0x100 there): 0 says the log has no report.
	{"oops", 171, "return faultmod_oops();", map[string]int{"6.1-i386": 49, "6.1-armhf": 49, "6.1-s390x": 0}},
	{"bug", 173, "BUG()", nil},
	// POWER's GCC puts the load on the caller's line too (addr2line
	// agrees), as it does faultmod_oops's on every 64-bit one.
	{"gpf", 58, "return READ_ONCE(obj->value); (faultmod_gpf, inlined)", map[string]int{"6.1-ppc64el": 201, "6.1-s390x": 0}},
}

// faultmod built by kbuild for each kernel of the matrix carries DWARF,
// resolves as addr2line does, and the frames of the real logs of that
// series resolve to the faulting statement's line.
func TestFaultmodReportsResolveToTheirSourceLines(t *testing.T) {
	type logs struct{ sel, arch, dir string }
	var all []logs
	for _, sel := range kerneltest.Matrix() {
		all = append(all, logs{sel, "", sel})
	}
	// Other architectures' real logs, in directories named
	// <series>-<arch>: i386's and armhf's 32-bit objects relocate their
	// DWARF with REL, ppc64el's with RELA's R_PPC64_ADDR64, s390x's with
	// R_390_64, and riscv64's (6.12: Debian has no riscv64 6.1) with
	// RISC-V's ADD/SUB pairs besides R_RISCV_64 and R_RISCV_32.
	all = append(all, logs{"6.1", "i386", "6.1-i386"}, logs{"6.1", "armhf", "6.1-armhf"}, logs{"6.1", "ppc64el", "6.1-ppc64el"},
		logs{"6.1", "s390x", "6.1-s390x"}, logs{"6.12", "riscv64", "6.12-riscv64"})
	for _, l := range all {
		sel := l.dir
		t.Run(sel, func(t *testing.T) {
			k := kerneltest.GetFor(t, l.sel, l.arch)
			cache := cachedir.Layout{Root: kernel.DefaultCacheDir()}
			tc, err := (&toolchain.Set{Dir: cache.Toolchains()}).For(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			res, err := kbuild.Build(t.Context(), k, tc, kbuild.Options{Source: "../../testdata/faultmod", Out: t.TempDir(),
				CacheDir: cache.Builds()})
			if err != nil {
				t.Fatal(err)
			}
			ko := res.Modules[0].Path
			compareAddr2line(t, ko, []string{"faultmod_ioctl"})
			s := &symbol.Symbolizer{Modules: []symbol.Module{{Path: ko, BuildDir: res.BuildDir, Source: "faultmod"}}, Trees: []string{k.KDir}}
			dir := filepath.Join("..", "dmesg", "testdata", "report", sel)
			if _, err := os.Stat(dir); err != nil {
				t.Skipf("no real logs of %s (%v): %s", sel, err, recapture(k.ABI, sel))
			}
			for _, c := range faultmodLines {
				t.Run(c.log, func(t *testing.T) {
					// The console where no /dev/kmsg copy was captured
					// (armhf's second port is a virtio-serial port
					// the capture's guest does not drive).
					path := filepath.Join(dir, c.log+".kmsg")
					if _, err := os.Stat(path); err != nil {
						path = filepath.Join(dir, c.log+".console")
					}
					log, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v: %s", err, recapture(k.ABI, sel))
					}
					if l, ok := c.in[sel]; ok && l == 0 {
						wantNoPC(t, log)
						return
					}
					f := finding(t, log)
					// A fixture captured from another build of faultmod
					// (another kernel of the series, another compiler)
					// names offsets of other code: stale, not skipped.
					at := moduleFrame(f)
					if size, extent := funcSize(t, ko, at.Func); at.Size != size && at.Size != extent && at.Size != size+localEntry(t, ko, at.Func) {
						t.Fatalf("%s is %#x bytes (%#x to the next symbol) in faultmod built for %s, %#x in %s: the fixtures are stale; %s",
							at.Func, size, extent, k.ABI, at.Size, path, recapture(k.ABI, sel))
					}
					kr := &report.Kernel{Arch: l.arch, Findings: []report.Finding{f}}
					s.Kernel(kr)
					fr, ok := kr.Findings[0].Source()
					line := c.line
					if l, ok := c.in[sel]; ok {
						line = l
					}
					if !ok || fr.File != filepath.Join("faultmod", "faultmod.c") || fr.Line != line {
						t.Errorf("%s: %s resolves to %q, want faultmod/faultmod.c:%d (%s)", path, fr, fr.Where(), line, c.what)
					}
					t.Logf("%s: %s", fr, fr.Where())
				})
			}
		})
	}
}

// wantNoPC checks that log, of a fault the architecture does not take,
// has no report naming faulting code.
func wantNoPC(t *testing.T, log []byte) {
	t.Helper()
	for _, f := range dmesg.Scan(log) {
		if f.PC.Func != "" || len(f.Frames) > 0 {
			t.Errorf("%s: %s at %+v, want no report", f.Kind, f.Title, f.PC)
		}
	}
}

// recapture says how to record the real logs of series sel again from
// the kernel abi (and then review the scanner's findings in them).
func recapture(abi, sel string) string {
	return fmt.Sprintf("capture them again from the repository's root with "+
		"go run ./testdata/faultmod/capture -abi %s -out vmtest/dmesg/testdata/report/%s (naming the kernel in its README.md), "+
		"then go test ./vmtest/dmesg -run TestFixtures -update and review the diff", abi, sel)
}

// finding is the first report of log with a PC or a module frame, as
// vmtest records it. 32-bit Arm's WARN prints no registers: the module's
// frame in its trace is where it fired.
func finding(t *testing.T, log []byte) report.Finding {
	t.Helper()
	fs := dmesg.Scan(log)
	for _, f := range fs {
		if f.PC.Func == "" && !slices.ContainsFunc(f.Frames, func(fr dmesg.Frame) bool { return fr.Module != "" }) {
			continue
		}
		out := report.Finding{Kind: string(f.Kind), Title: f.Title, Func: f.Func, PC: reportFrame(f.PC)}
		for _, fr := range f.Frames {
			out.Frames = append(out.Frames, *reportFrame(fr))
		}
		return out
	}
	t.Fatalf("no report with a PC in %d findings", len(fs))
	return report.Finding{}
}

// moduleFrame is f's PC, or without one its first frame in a module.
func moduleFrame(f report.Finding) report.Frame {
	if f.PC != nil && f.PC.Func != "" {
		return *f.PC
	}
	for _, fr := range f.Frames {
		if fr.Module != "" {
			return fr
		}
	}
	return report.Frame{}
}

func reportFrame(f dmesg.Frame) *report.Frame {
	return &report.Frame{Func: f.Func, Offset: f.Offset, Size: f.Size, Module: f.Module, Addr: f.Addr, Unreliable: f.Unreliable}
}

// funcSize is the size of function name in the module at path, and its
// extent to the next symbol: the two sizes a kernel's frame may show.
func funcSize(t *testing.T, path, name string) (size, extent uint64) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name != name || elf.ST_TYPE(s.Info) != elf.STT_FUNC || int(s.Section) >= len(f.Sections) {
			continue
		}
		// The size a module's frame shows is st_size on older kernels
		// (5.10, 6.1), and kallsyms' distance to the next symbol on
		// newer ones (6.12), alignment padding included: the last
		// function of a section runs to the section's end, rounded up
		// to its alignment, where the loader puts the next one.
		sec := f.Sections[s.Section]
		end := sec.Size
		if a := sec.Addralign; a > 1 {
			end = (end + a - 1) / a * a
		}
		for _, o := range syms {
			if o.Section == s.Section && o.Name != "" && o.Value > s.Value && o.Value < end &&
				(elf.ST_TYPE(o.Info) == elf.STT_FUNC || elf.ST_TYPE(o.Info) == elf.STT_NOTYPE) {
				end = o.Value
			}
		}
		return s.Size, end - s.Value
	}
	t.Fatalf("%s: no function %s", path, name)
	return 0, 0
}

// localEntry is the offset of a POWER ELFv2 function's local entry point
// from its global one (st_other's bits 5-7, as PPC64_LOCAL_ENTRY_OFFSET
// decodes them), 0 elsewhere. Debian's ppc64el 6.1 printed faultmod_ioctl
// as 0x634 bytes, its st_size 0x62c plus its local entry offset 8.
func localEntry(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if f.Machine == elf.EM_PPC64 && s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			return uint64(1<<(s.Other>>5&7)) >> 2 << 2
		}
	}
	return 0
}
