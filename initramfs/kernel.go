package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/internal/zfile"
	"github.com/ulikunitz/xz"
)

// KernelLayer names what goes into one kernel's layer.
type KernelLayer struct {
	// ModulesDir is the kernel's lib/modules/<abi> directory; its
	// modules.dep (from depmod) resolves in-kernel dependencies.
	ModulesDir string
	// Modules are the .ko files under test, built for this kernel.
	Modules []string
	// Files are extra files for the tests: guest path to host path.
	Files map[string]string
	// Early are in-kernel modules the guest loads before anything else,
	// with what they need (the drivers of the agent's ports, where Debian
	// builds them as modules: virtio_console on arm64).
	Early []string
}

// Kernel returns the cached layer holding the modules under test at
// /kmodvm/modules/<file>, every in-kernel module they need (transitively,
// decompressed so that no kernel needs to decompress them) below
// /kmodvm/modules/kernel/..., and the extra files; and the modules in load
// order, dependencies first, for the RunConfig (Params left to the caller).
func (b *Builder) Kernel(ctx context.Context, kl KernelLayer) (string, []event.Module, error) {
	plan, err := resolveModules(kl.ModulesDir, kl.Early, kl.Modules)
	if err != nil {
		return "", nil, err
	}
	k := newKey("kernel")
	var mods []event.Module
	for _, m := range plan {
		if err := k.addFile(m.guest, m.host); err != nil {
			return "", nil, fmt.Errorf("hash module %s: %w", m.host, err)
		}
		mods = append(mods, event.Module{Name: m.name, Path: m.guest, Dep: m.dep, Early: m.early})
	}
	guestPaths := make([]string, 0, len(kl.Files))
	for g := range kl.Files {
		guestPaths = append(guestPaths, g)
	}
	sort.Strings(guestPaths)
	for _, g := range guestPaths {
		if err := k.addFile(g, kl.Files[g]); err != nil {
			return "", nil, fmt.Errorf("hash test file %s: %w", kl.Files[g], err)
		}
	}
	layer, err := b.cached(ctx, "kernel-"+k.sum()+".cpio", func(ctx context.Context, f *os.File) error {
		lw := newLayerWriter(f)
		for _, m := range plan {
			if err := lw.moduleFile(m); err != nil {
				return err
			}
		}
		for _, g := range guestPaths {
			if err := lw.copyFile(g, kl.Files[g]); err != nil {
				return err
			}
		}
		return lw.close()
	})
	if err != nil {
		return "", nil, err
	}
	return layer, mods, nil
}

// plannedModule is a module file to put in the image.
type plannedModule struct {
	name  string // as the kernel knows it
	host  string
	guest string // decompressed name
	dep   bool
	early bool // needed by an Early module, loaded before the ports open
}

func (lw *layerWriter) moduleFile(m plannedModule) error {
	if !isCompressed(m.host) {
		return lw.copyFile(m.guest, m.host)
	}
	data, err := decompressFile(m.host)
	if err != nil {
		return fmt.Errorf("decompress %s: %w", m.host, err)
	}
	return lw.file(m.guest, data, 0o644)
}

// resolveModules orders the early in-kernel modules, then the modules under
// test and their in-kernel dependencies, so that each comes after
// everything it needs. A module under test declares its dependencies by
// name in .modinfo (depends=); an in-kernel module's come from
// modules.dep. Names spell '-' and '_' interchangeably. An early module
// built into the kernel needs nothing.
func resolveModules(modulesDir string, early, modules []string) ([]plannedModule, error) {
	idx, builtin, err := moduleIndex(modulesDir)
	if err != nil {
		return nil, err
	}
	underTest := map[string]string{} // name -> host path
	deps := map[string][]string{}
	var order []string
	for _, p := range modules {
		info, err := readModinfo(p)
		if err != nil {
			return nil, err
		}
		name := moddep.Name(p)
		if info["name"] != "" {
			name = moddep.Name(info["name"])
		}
		underTest[name] = p
		deps[name] = splitDepends(info["depends"])
		order = append(order, name)
	}
	var plan []plannedModule
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		if p, ok := underTest[name]; ok {
			for _, d := range deps[name] {
				if err := visit(d, name); err != nil {
					return err
				}
			}
			plan = append(plan, plannedModule{name: name, host: p, guest: path.Join(ModulesDir, stripCompression(filepath.Base(p)))})
		} else if e, ok := idx[name]; ok {
			for _, d := range e.Deps {
				if err := visit(moddep.Name(d), name); err != nil {
					return err
				}
			}
			plan = append(plan, plannedModule{name: name, host: filepath.Join(modulesDir, e.Path),
				guest: path.Join(ModulesDir, stripCompression(filepath.ToSlash(e.Path))), dep: true})
		} else if modulesDir == "" {
			return fmt.Errorf("%s needs module %s, but the kernel has no modules tree: build it in, or install the kernel's modules (make modules_install)", from, name)
		} else if !builtin[name] {
			return fmt.Errorf("%s needs module %s, which %s neither has in modules.dep nor builds in", from, name, modulesDir)
		}
		state[name] = 2
		return nil
	}
	for _, name := range early {
		if err := visit(moddep.Name(name), "the guest's ports"); err != nil {
			return nil, err
		}
	}
	for i := range plan {
		plan[i].early = true
	}
	for _, name := range order {
		if err := visit(name, name); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// moduleIndex reads a modules tree's modules.dep and modules.builtin. A
// kernel without a modules tree (a local build, not installed) has empty
// ones: it can still run modules that need nothing from it.
func moduleIndex(modulesDir string) (map[string]moddep.Entry, map[string]bool, error) {
	idx := map[string]moddep.Entry{}
	if modulesDir != "" {
		var err error
		if idx, err = moddep.Read(modulesDir); err != nil {
			return nil, nil, err
		}
	}
	return idx, readBuiltin(modulesDir), nil
}

// readBuiltin returns the names of modules built into the kernel; a kernel
// without modules.builtin has none known.
func readBuiltin(dir string) map[string]bool {
	b, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		return nil
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		m[moddep.Name(l)] = true
	}
	return m
}

// readModinfo returns a module's .modinfo key=value pairs (the last value
// of a repeated key). The module may be compressed.
func readModinfo(path string) (map[string]string, error) {
	var r io.ReaderAt
	if isCompressed(path) {
		data, err := decompressFile(path)
		if err != nil {
			return nil, fmt.Errorf("decompress module %s: %w", path, err)
		}
		r = bytes.NewReader(data)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read module %s: %w", path, err)
		}
		defer f.Close()
		r = f
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo of %s: %w", path, err)
	}
	info := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok {
			info[string(k)] = string(v)
		}
	}
	return info, nil
}

func splitDepends(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, moddep.Name(d))
		}
	}
	return out
}

func isCompressed(p string) bool {
	switch path.Ext(p) {
	case ".xz", ".zst", ".gz":
		return true
	}
	return false
}

func stripCompression(p string) string {
	if isCompressed(p) {
		return strings.TrimSuffix(p, path.Ext(p))
	}
	return p
}

func decompressFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader
	switch path.Ext(p) {
	case ".xz":
		r, err = xz.NewReader(f)
	case ".gz":
		r, err = gzip.NewReader(f)
	case ".zst":
		var z *zstd.Decoder
		z, err = zfile.NewReader(f)
		if err == nil {
			defer z.Close()
			r = z
		}
	}
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// InKernelDeps returns the names of the in-kernel modules that the modules
// under test need from modulesDir, in load order, each once: what a
// kernel built to order must provide for them.
func InKernelDeps(modulesDir string, modules []string) ([]string, error) {
	plan, err := resolveModules(modulesDir, nil, modules)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range plan {
		if m.dep {
			out = append(out, m.name)
		}
	}
	return out, nil
}

// MissingModules returns the names that modulesDir neither has in
// modules.dep nor builds in.
func MissingModules(modulesDir string, names []string) ([]string, error) {
	idx, builtin, err := moduleIndex(modulesDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if _, ok := idx[moddep.Name(n)]; !ok && !builtin[moddep.Name(n)] {
			out = append(out, n)
		}
	}
	return out, nil
}
