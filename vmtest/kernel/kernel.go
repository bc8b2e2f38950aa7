package kernel

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Kernel is a kernel ready to build modules for and to boot.
type Kernel struct {
	// Name is how reports name the kernel: the ABI for Debian kernels.
	Name string `json:"name"`
	// ABI is the kernel release, as uname -r prints it.
	ABI     string `json:"abi"`
	Series  string `json:"series,omitempty"`
	Flavour string `json:"flavour,omitempty"`
	// Version is the Debian package version, or empty for local kernels.
	Version string `json:"version,omitempty"`
	// Origin says where the kernel came from, for people: "debian
	// bookworm-security", "local", "built from linux-source-6.1 6.1.192-1".
	Origin string `json:"origin"`
	// ID is the kernel's identity, a hash of its provider's inputs (see
	// Spec.ID): two builds of one release with different configs differ.
	// It keys the cache, output directories and reports.
	ID string `json:"id"`
	// Provider names the provider that made it ("debian", "local",
	// "source"); Arch is its architecture's name (arch.Arch.Name).
	Provider string `json:"provider"`
	Arch     string `json:"arch,omitempty"`
	// Variant is "" for a stock kernel, else the debug configuration it
	// was built with ("debug", "kcsan").
	Variant string `json:"variant,omitempty"`
	// Note is what the user should know about it, shown in reports.
	Note string `json:"note,omitempty"`
	// InPlace kernels are a user's tree used where it is: it may be
	// rebuilt between runs, and it was built on this host.
	InPlace bool `json:"in_place,omitempty"`
	// Dir is the cache entry (or, for a local kernel, its build tree).
	Dir string `json:"dir"`

	// BzImage is the compressed boot image: arm64's Image (zstd-compressed
	// in a Debian entry), amd64's bzImage. A Debian amd64 entry with a
	// PVH Vmlinux has none.
	BzImage string `json:"bzimage"`
	// Vmlinux is an ELF kernel with a PVH entry note, or empty when the
	// kernel cannot boot through PVH. A Debian entry keeps it
	// zstd-compressed (vmlinux.zst: qemu.IsCompressedKernel), which the VM
	// layer decompresses for QEMU; HasPVHNote reads either.
	Vmlinux string `json:"vmlinux,omitempty"`
	// SystemMap is the kernel's symbol table, or empty when only a
	// placeholder is available (Debian ships the real one in -dbg packages).
	SystemMap string `json:"system_map,omitempty"`
	Config    string `json:"config,omitempty"`
	// ModulesDir is lib/modules/<ABI> with modules.dep, or empty.
	ModulesDir string `json:"modules_dir,omitempty"`
	// KDir is the tree out-of-tree modules build against (make -C KDir).
	KDir string `json:"kdir,omitempty"`
	// Compiler is the compiler the kernel was built with, as the build
	// names it ("gcc-12"), and CompilerText its CONFIG_CC_VERSION_TEXT.
	Compiler     string `json:"compiler,omitempty"`
	CompilerText string `json:"compiler_text,omitempty"`
	// MakeVars are make variables every module build for this kernel
	// passes ("CC=gcc-14"): Debian's headers name their compiler in
	// .kernelvariables, a tree kmodvm built from source does not.
	MakeVars []string `json:"make_vars,omitempty"`

	// DebugInfo, when a run asked for it (Fetcher.DebugInfo), is the
	// kernel's vmlinux with DWARF and real System.map. Not part of the
	// cache entry: it is kept beside it.
	DebugInfo *DebugInfo `json:"-"`
}

// ProviderLocal names the provider of a user's own trees, built into the
// Fetcher.
const ProviderLocal = "local"

// BootImage is the image QEMU should boot: the PVH vmlinux when there is
// one, the bzImage otherwise.
func (k *Kernel) BootImage() string {
	if k.Vmlinux != "" {
		return k.Vmlinux
	}
	return k.BzImage
}

var (
	ccVarRe = regexp.MustCompile(`^CC\s*[:?]?=\s*(.*)$`)
	// "gcc-12", or "<triplet>-gcc-12" for any architecture's triplet:
	// the compiler, named without the prefix.
	ccNameRe = regexp.MustCompile(`\b(?:` + anyOf(triplets()) + `-)?((?:gcc|clang)(?:-[0-9]+)?)\s*$`)
	ccTextRe = regexp.MustCompile(`^CONFIG_CC_VERSION_TEXT="(.*)"$`)
)

// triplets are every architecture's GNU triplet.
func triplets() []string {
	var out []string
	for _, a := range arch.All() {
		out = append(out, a.Triplet)
	}
	return out
}

// DetectCompiler reads the compiler a kernel was built with from Debian's
// .kernelvariables in kdir and CONFIG_CC_VERSION_TEXT in config.
func DetectCompiler(kdir, config string) (name, text string) {
	if b, err := os.ReadFile(config); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if m := ccTextRe.FindStringSubmatch(sc.Text()); m != nil {
				text = m[1]
				break
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(kdir, ".kernelvariables")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if m := ccVarRe.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				if n := ccNameRe.FindStringSubmatch(strings.ReplaceAll(m[1], "$(CROSS_COMPILE)", "")); n != nil {
					name = n[1]
				}
			}
		}
	}
	if name == "" && text != "" {
		// "gcc-12 (Debian 12.2.0-14) 12.2.0" or "gcc (GCC) 13.1.0".
		f := strings.Fields(text)
		name = f[0]
		if name == "gcc" || name == "clang" {
			if v := f[len(f)-1]; v != "" {
				major, _, _ := strings.Cut(v, ".")
				name += "-" + major
			}
		}
	}
	return name, text
}

// RealSystemMap tells a System.map from Debian's one-line placeholder that
// points to the -dbg package.
func RealSystemMap(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Size() > 4096
}
