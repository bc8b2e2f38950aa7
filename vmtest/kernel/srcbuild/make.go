package srcbuild

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kconfig"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// ErrBuild marks a kernel build that failed (the log says why), as opposed
// to the machine failing it.
var ErrBuild = errors.New("kernel build failed")

// expectedUnits is about how many objects a variant compiles (measured on
// 6.1): the progress line's denominator. It only shapes the percentage.
var expectedUnits = map[string]int{"debug": 1300, "kcsan": 1300}

// Make implements kernel.Provider: download and unpack the source, apply the
// fixups, configure, build, install the modules, and keep the tree
// (without its objects) for module builds.
func (p *Provider) Make(ctx context.Context, s *kernel.Spec, dir string) (*kernel.Kernel, error) {
	v, ok := variants[s.Variant]
	if !ok || len(s.Packages) != 1 || s.Debian == nil {
		return nil, fmt.Errorf("%s: not a source kernel spec", s.Name)
	}
	start := time.Now()
	cc := compilerFor(*s.Debian)
	tc, err := p.Toolchains.ForKernelBuild(ctx, cc)
	if err != nil {
		return nil, err
	}
	p.logf("%s: downloading %s %s", s.Name, s.Packages[0].Name, s.Packages[0].Version)
	var tree string
	var uerr error
	err = p.Archive.WithPackages(ctx, s.Name, s.Packages, func(debs []string) error {
		p.logf("%s: unpacking the source", s.Name)
		tree, uerr = unpack(ctx, debs[0], dir)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch source of %s: %w", s.Name, err)
	}
	if uerr != nil {
		return nil, fmt.Errorf("unpack source of %s: %w", s.Name, uerr)
	}
	a, err := arch.Lookup(s.Arch)
	if err != nil {
		return nil, err
	}
	for _, f := range fixups {
		if err := f.fn(tree, a); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	b := &builder{arch: a, p: p, tc: tc, tree: tree, dir: dir, spec: s, log: logf,
		vars: append(a.MakeArgs(), "CC="+cc, "HOSTCC="+cc, "LOCALVERSION=", "KBUILD_BUILD_TIMESTAMP=kmodvm", "KBUILD_BUILD_HOST=kmodvm", "KBUILD_BUILD_USER=kmodvm")}
	if err := b.configure(ctx, v); err != nil {
		return nil, err
	}
	p.logf("%s: building with %s (%s); the log is %s", s.Name, cc, tc, logPath)
	if err := b.compile(ctx, expectedUnits[s.Variant]); err != nil {
		return nil, err
	}
	k, err := b.finish(ctx)
	if err != nil {
		return nil, err
	}
	p.logf("%s: built in %s", s.Name, time.Since(start).Round(time.Second))
	return k, nil
}

func (p *Provider) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, format+"\n", args...)
	}
}

// unpack extracts the package's source tarball into dir/src.
func unpack(ctx context.Context, deb, dir string) (string, error) {
	pkg := filepath.Join(dir, "pkg")
	if err := debian.Extract(ctx, deb, pkg); err != nil {
		return "", err
	}
	defer os.RemoveAll(pkg)
	tars, _ := filepath.Glob(filepath.Join(pkg, "usr", "src", "linux-source-*.tar.*"))
	if len(tars) != 1 {
		return "", fmt.Errorf("%s holds %d source tarballs, want 1", deb, len(tars))
	}
	if out, err := proc.Command(ctx, "tar", "-xf", tars[0], "-C", dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar -xf %s: %w: %s", tars[0], err, out)
	}
	top := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(tars[0]), filepath.Ext(tars[0])), ".tar")
	tree := filepath.Join(dir, "src")
	return tree, os.Rename(filepath.Join(dir, top), tree)
}

// builder runs make in a tree with a toolchain.
type builder struct {
	arch *arch.Arch
	p    *Provider
	tc   *toolchain.Toolchain
	tree string
	dir  string
	spec *kernel.Spec
	vars []string
	log  io.Writer
}

func (b *builder) make(ctx context.Context, out io.Writer, args ...string) error {
	args = append(append([]string{"-C", b.tree}, b.vars...), args...)
	fmt.Fprintf(b.log, "# make %s\n", strings.Join(args, " "))
	cmd := b.tc.Command(ctx, []toolchain.Bind{{Path: b.dir}}, "make", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s: make %s: %v", ErrBuild, b.spec.Name, args[len(args)-1], err)
	}
	return nil
}

// configure makes allnoconfig, merges the fragments and the release name,
// and checks that every requested option took.
func (b *builder) configure(ctx context.Context, v variant) error {
	if err := b.make(ctx, b.log, "allnoconfig"); err != nil {
		return err
	}
	frags := filepath.Join(b.dir, "fragments")
	if err := os.MkdirAll(frags, 0o755); err != nil {
		return err
	}
	var paths []string
	for _, f := range v.fragmentFiles() {
		data, err := configs.ReadFile(f)
		if err != nil {
			return err
		}
		request, _ := splitOptional(string(data))
		dst := filepath.Join(frags, filepath.Base(f))
		if err := os.WriteFile(dst, []byte(request), 0o644); err != nil {
			return err
		}
		paths = append(paths, dst)
	}
	if len(b.spec.Modules) > 0 {
		tailor, err := b.tailorFragment(ctx)
		if err != nil {
			return err
		}
		dst := filepath.Join(frags, "tailor.config")
		if err := os.WriteFile(dst, []byte(tailor), 0o644); err != nil {
			return err
		}
		paths = append(paths, dst)
	}
	local := filepath.Join(frags, "localversion.config")
	if err := os.WriteFile(local, []byte(fmt.Sprintf("CONFIG_LOCALVERSION=\"-%s\"\n# CONFIG_LOCALVERSION_AUTO is not set\n", b.spec.Variant)), 0o644); err != nil {
		return err
	}
	paths = append(paths, local)
	merge := append([]string{filepath.Join(b.tree, "scripts", "kconfig", "merge_config.sh"), "-m", "-O", b.tree, filepath.Join(b.tree, ".config")}, paths...)
	cmd := b.tc.Command(ctx, []toolchain.Bind{{Path: b.dir}}, "sh", merge...)
	cmd.Dir = b.tree
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s: merge_config: %v", ErrBuild, b.spec.Name, err)
	}
	if err := b.make(ctx, b.log, "olddefconfig"); err != nil {
		return err
	}
	final, err := os.ReadFile(filepath.Join(b.tree, ".config"))
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range append(v.fragmentFiles(), paths[len(v.fragmentFiles()):]...) {
		want, err := configs.ReadFile(f)
		if !strings.HasPrefix(f, "configs/") {
			want, err = os.ReadFile(f) // written here: tailor, localversion
		}
		if err != nil {
			return err
		}
		_, strict := splitOptional(string(want))
		missing = append(missing, Missing(strict, string(final))...)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s: the configuration lacks what was asked for (a dependency is missing on this version): %s",
			ErrBuild, b.spec.Name, strings.Join(missing, "; "))
	}
	return nil
}

// tailorFragment enables the in-kernel modules the spec names, with what
// their Kconfig options depend on set as the stock kernel of the series
// sets it.
func (b *builder) tailorFragment(ctx context.Context) (string, error) {
	if b.spec.Stock == nil {
		return "", fmt.Errorf("%s: a spec without its stock kernel cannot be tailored", b.spec.Name)
	}
	stock, err := b.p.Kernels.Get(ctx, b.spec.Stock)
	if err != nil {
		return "", fmt.Errorf("the stock kernel's config, to build %s: %w", strings.Join(b.spec.Modules, ", "), err)
	}
	data, err := os.ReadFile(stock.Config)
	if err != nil {
		return "", err
	}
	cfg := kernel.ParseConfig(string(data))
	opts, err := kconfig.ModuleOptions(b.tree, cfg, b.spec.Modules)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrBuild, b.spec.Name, err)
	}
	var syms []string
	for _, o := range opts {
		syms = append(syms, o.Symbols()...)
	}
	lines, err := kconfig.DependencyFragment(b.tree, cfg, syms)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrBuild, b.spec.Name, err)
	}
	return "# The in-kernel modules " + strings.Join(b.spec.Modules, ", ") + " need (kmodvm tailored this kernel).\n" +
		strings.Join(lines, "\n") + "\n", nil
}

// compile builds the image and the modules, reporting progress by the
// objects compiled.
func (b *builder) compile(ctx context.Context, expect int) error {
	jobs := b.p.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(b.log, line)
			if strings.HasPrefix(line, "  CC ") && b.p.Progress != nil {
				n++
				b.p.Progress(b.spec.Name, n, max(expect, n+1))
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := b.make(ctx, pw, "-j"+strconv.Itoa(jobs), "bzImage", "modules")
	pw.Close()
	wg.Wait()
	return err
}

// finish installs the modules, trims the tree to what module builds need
// and describes the entry.
func (b *builder) finish(ctx context.Context) (*kernel.Kernel, error) {
	root := filepath.Join(b.dir, "root")
	if err := b.make(ctx, b.log, "INSTALL_MOD_PATH="+root, "INSTALL_MOD_STRIP=1", "DEPMOD=true", "modules_install"); err != nil {
		return nil, err
	}
	rel, err := os.ReadFile(filepath.Join(b.tree, "include", "config", "kernel.release"))
	if err != nil {
		return nil, err
	}
	abi := strings.TrimSpace(string(rel))
	modDir := filepath.Join(root, "lib", "modules", abi)
	for _, l := range []string{"build", "source"} {
		os.Remove(filepath.Join(modDir, l)) // links back into the tree
	}
	if err := kernel.Depmod(ctx, root, abi, modDir); err != nil {
		return nil, err
	}
	if err := trim(b.tree, b.arch); err != nil {
		return nil, err
	}
	k := &kernel.Kernel{
		Name: b.spec.Name, ABI: abi, Series: b.spec.Series, Version: b.spec.Version,
		Origin:  fmt.Sprintf("built from %s %s", b.spec.Packages[0].Name, b.spec.Packages[0].Version),
		BzImage: filepath.Join(b.tree, filepath.FromSlash(b.arch.TreeImage)), SystemMap: filepath.Join(b.tree, "System.map"),
		Config: filepath.Join(b.tree, ".config"), ModulesDir: modDir, KDir: b.tree,
		MakeVars: []string{"CC=" + b.tc.Compiler, "HOSTCC=" + b.tc.Compiler},
	}
	if ok, _ := kernel.HasPVHNote(filepath.Join(b.tree, "vmlinux")); ok {
		k.Vmlinux = filepath.Join(b.tree, "vmlinux")
	}
	config, err := os.ReadFile(k.Config)
	if err != nil {
		return nil, err
	}
	k.Compiler, k.CompilerText = b.tc.Compiler, strings.Trim(kernel.ParseConfig(string(config))["CONFIG_CC_VERSION_TEXT"], `"`)
	return k, nil
}

// trim keeps what out-of-tree module builds need of the built tree, as
// Debian's headers packages do: the configuration and generated files,
// include/ and the architecture's include/, scripts/ (host tools kept
// whole), objtool and resolve_btfids of tools/, every Makefile, Kbuild and
// Kconfig file, linker scripts,
// Module.symvers and System.map; and vmlinux, whose debug info symbolizes
// in-kernel frames, and the boot image. The rest (objects, C sources,
// drivers' private headers: most of the tree's size) goes.
func trim(tree string, a *arch.Arch) error {
	archInclude := filepath.Join("arch", a.KernelArch, "include")
	keepTop := map[string]bool{".config": true, "Module.symvers": true, "System.map": true, "vmlinux": true,
		"modules.order": true, "modules.builtin": true, "modules.builtin.modinfo": true, "Makefile": true}
	return filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		if d.IsDir() {
			switch rel {
			case "include", "scripts", archInclude:
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		switch {
		case rel == filepath.Join("tools", "objtool", "objtool"), rel == filepath.Join("tools", "bpf", "resolve_btfids", "resolve_btfids"),
			!strings.Contains(rel, string(filepath.Separator)) && keepTop[name],
			rel == filepath.FromSlash(a.TreeImage),
			strings.HasPrefix(name, "Makefile"), strings.HasPrefix(name, "Kbuild"), strings.HasPrefix(name, "Kconfig"),
			strings.HasSuffix(name, ".lds"), strings.HasSuffix(name, ".lds.S"):
			return nil
		}
		return os.Remove(p)
	})
}
