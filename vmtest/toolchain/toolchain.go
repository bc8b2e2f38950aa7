package toolchain

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// Toolchain is where a module build runs: on the host, or chrooted into a
// Debian userland.
type Toolchain struct {
	// Compiler is the compiler the kernel expects ("gcc-14").
	Compiler string
	// Root is the chroot, or "" for the host.
	Root string
	// Suite is the Debian release of Root.
	Suite string
}

func (t *Toolchain) String() string {
	if t.Root == "" {
		return t.Compiler + " (host)"
	}
	return fmt.Sprintf("%s (debian %s userland)", t.Compiler, t.Suite)
}

// Gcov names the gcov that reads what Compiler's -ftest-coverage wrote:
// gcov-12 for gcc-12 (Debian ships it in the compiler's package), gcov for
// gcc. It runs like the compiler, with Command.
func (t *Toolchain) Gcov() string {
	if v, ok := strings.CutPrefix(t.Compiler, "gcc"); ok {
		return "gcov" + v
	}
	return "gcov"
}

// Set provides toolchains, provisioning and caching userlands.
type Set struct {
	// Dir holds one userland per suite.
	Dir string
	// Mirror is the Debian mirror debootstrap uses; empty means the
	// host's (debian.HostMirrors).
	Mirror string
	// Log receives debootstrap's progress; nil discards it.
	Log io.Writer
	// Offline forbids debootstrap: a userland missing or damaged is an
	// error.
	Offline bool

	mu      sync.Mutex
	checked map[string]bool // userlands found intact by this Set
}

// compilerSuites maps a compiler to the Debian release whose default it is.
var compilerSuites = map[string]string{
	"gcc-10": "bullseye",
	"gcc-12": "bookworm",
	"gcc-14": "trixie",
}

// suitePackages are what a userland needs to build modules, per suite:
// make, libelf for objtool, pahole for module BTF, perl and python3 for
// W=1's kernel-doc (perl up to 6.15, python from 6.16).
var suitePackages = map[string][]string{
	"bullseye": {"make", "libelf1", "dwarves", "libc6-dev", "perl", "python3"},
	"bookworm": {"make", "libelf1", "dwarves", "libc6-dev", "perl", "python3"},
	"trixie":   {"make", "libelf1t64", "pahole", "libc6-dev", "perl", "python3"},
	"sid":      {"make", "libelf1t64", "pahole", "libc6-dev", "perl", "python3"},
}

// SuiteFor returns the Debian release that provides compiler.
func SuiteFor(compiler string) string {
	if s, ok := compilerSuites[compiler]; ok {
		return s
	}
	return "sid"
}

// ErrNeedRoot means a toolchain userland must be made or entered as root.
var ErrNeedRoot = errors.New("needs root")

// For returns the toolchain to build modules for k: the host when it has
// the kernel's compiler and can run the kernel's build tools, otherwise a
// userland of the matching Debian release, made on first use.
// For a kernel of another architecture that is the release's cross
// compiler for it (<triplet>-gcc-12, package Arch.CompilerPackage names):
// the headers' build tools are the host's.
func (t *Set) For(ctx context.Context, k *kernel.Kernel) (*Toolchain, error) {
	cc := k.Compiler
	if cc == "" {
		cc = "gcc"
	}
	a, err := arch.Lookup(k.Arch)
	if err != nil {
		return nil, err
	}
	if hostCanBuild(k, a.CrossCompile()+cc) {
		return &Toolchain{Compiler: cc}, nil
	}
	if k.InPlace {
		return nil, fmt.Errorf("%s was built with %s, which the host lacks: install %s", k.Name, cc, a.CompilerPackage(cc))
	}
	suite := SuiteFor(cc)
	root, err := t.userland(ctx, suite, a.CompilerPackage(cc))
	if err != nil {
		return nil, fmt.Errorf("toolchain for %s (%s): %w", k.Name, cc, err)
	}
	return &Toolchain{Compiler: cc, Root: root, Suite: suite}, nil
}

// hostCanBuild reports whether the host has compiler cc and a C library new
// enough for the kernel's prebuilt build tools (Debian's linux-kbuild for
// trixie needs glibc 2.38, bookworm has 2.36).
func hostCanBuild(k *kernel.Kernel, cc string) bool {
	if _, err := exec.LookPath(cc); err != nil {
		return false
	}
	if k.KDir == "" {
		return true
	}
	need := maxGlibc(k.KDir)
	have := hostGlibc()
	return have != [2]int{} && !less(have, need)
}

func less(a, b [2]int) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// hostGlibc returns the host C library's version.
func hostGlibc() [2]int {
	out, err := exec.Command("getconf", "GNU_LIBC_VERSION").Output()
	if err != nil {
		return [2]int{}
	}
	f := strings.Fields(string(out)) // "glibc 2.36"
	if len(f) != 2 {
		return [2]int{}
	}
	return parseVersion2(f[1])
}

func parseVersion2(s string) [2]int {
	maj, min, _ := strings.Cut(s, ".")
	a, _ := strconv.Atoi(maj)
	b, _ := strconv.Atoi(strings.SplitN(min, ".", 2)[0])
	return [2]int{a, b}
}

// maxGlibc returns the newest GLIBC_x.y symbol version that any executable
// of the kernel's build tools (scripts/, tools/) requires.
func maxGlibc(kdir string) [2]int {
	var max [2]int
	for _, sub := range []string{"scripts", "tools"} {
		root, err := filepath.EvalSymlinks(filepath.Join(kdir, sub))
		if err != nil {
			continue
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if info, err := d.Info(); err != nil || info.Mode()&0o111 == 0 {
				return nil
			}
			f, err := elf.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			syms, _ := f.DynamicSymbols()
			for _, s := range syms {
				if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok {
					if g := parseVersion2(v); less(max, g) {
						max = g
					}
				}
			}
			return nil
		})
	}
	return max
}

// KernelBuildPackages are what building a kernel needs beyond building
// modules: the Kconfig parser's flex and bison, bc for timeconst, libelf
// and OpenSSL headers for objtool and the signing tools, lz4 for the
// compressed image, kmod for depmod and cpio for the kheaders archive.
var KernelBuildPackages = []string{"flex", "bison", "bc", "libelf-dev", "libssl-dev", "lz4", "kmod", "cpio", "xz-utils"}

// ForKernelBuild returns a toolchain that builds whole kernels with
// compiler cc: the host when it has cc and every tool a kernel build
// needs, else a userland of cc's Debian release with them.
func (t *Set) ForKernelBuild(ctx context.Context, cc string) (*Toolchain, error) {
	if missing := hostKernelBuildMissing(cc); len(missing) == 0 {
		return &Toolchain{Compiler: cc}, nil
	} else if SuiteFor(cc) == hostSuite() {
		return nil, fmt.Errorf("building a kernel with the host's %s needs %s: install them (make deps)", cc, strings.Join(missing, ", "))
	}
	suite := SuiteFor(cc)
	root, err := t.userland(ctx, suite, cc, KernelBuildPackages...)
	if err != nil {
		return nil, fmt.Errorf("kernel build toolchain (%s): %w", cc, err)
	}
	return &Toolchain{Compiler: cc, Root: root, Suite: suite}, nil
}

// hostKernelBuildMissing lists what the host lacks to build a kernel with
// cc.
func hostKernelBuildMissing(cc string) []string {
	var missing []string
	for _, tool := range []string{cc, "make", "flex", "bison", "bc", "lz4", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for hdr, pkg := range map[string]string{"/usr/include/libelf.h": "libelf-dev", "/usr/include/openssl/opensslv.h": "libssl-dev"} {
		if _, err := os.Stat(hdr); err != nil {
			missing = append(missing, pkg)
		}
	}
	return missing
}

// hostSuite is the host's Debian release, from /etc/os-release.
func hostSuite() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
