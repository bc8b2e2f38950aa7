package kernel

import (
	"context"
	"fmt"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"os"
	"path/filepath"
	"strings"
)

// localProvider makes kernels of a user's own build: a kernel build tree
// (arch/x86/boot/bzImage, vmlinux, Module.symvers) or a boot image, with
// the Fetcher's KDir naming the tree to build modules against. Local
// kernels are used in place and not copied into the cache.
type localProvider struct{ f *Fetcher }

func (localProvider) Name() string { return ProviderLocal }

func (localProvider) Accepts(sel Selector) bool { return sel.Kind == Path }

func (l localProvider) Resolve(_ context.Context, sel Selector) (*Spec, error) {
	path, kdir := sel.Path, l.f.KDir
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("local kernel: %w", err)
	}
	if info.IsDir() {
		kdir = path
	}
	s := &Spec{Provider: ProviderLocal, Arch: arch.Default, Name: filepath.Base(path), Path: path, KDir: kdir, InPlace: true}
	if b, err := os.ReadFile(filepath.Join(kdir, "include", "config", "kernel.release")); kdir != "" && err == nil {
		s.ABI = strings.TrimSpace(string(b))
		s.Name = s.ABI
	}
	// A tree is rebuilt in place: its identity is where it is and what its
	// image and config are now.
	s.Inputs = append(s.Inputs, "path "+path, "kdir "+kdir)
	for _, p := range []string{path, filepath.Join(path, treeImage()), filepath.Join(kdir, ".config")} {
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			s.Inputs = append(s.Inputs, fmt.Sprintf("file %s %d %d", p, info.Size(), info.ModTime().UnixNano()))
		}
	}
	return s, nil
}

func (localProvider) Make(_ context.Context, s *Spec, _ string) (*Kernel, error) {
	return openLocal(s.Path, s.KDir)
}

// Local returns the kernel built by the user at path (see localProvider).
func (f *Fetcher) Local(ctx context.Context, path, kdir string) (*Kernel, error) {
	sel := Selector{Raw: path, Kind: Path, Path: path}
	lf := &Fetcher{Cache: f.Cache, KDir: kdir}
	s, err := localProvider{lf}.Resolve(ctx, sel)
	if err != nil {
		return nil, err
	}
	return lf.Get(ctx, s)
}

// treeImage is where a built tree of the default architecture keeps its
// boot image.
func treeImage() string {
	a, _ := arch.Lookup(arch.Default)
	return filepath.FromSlash(a.TreeImage)
}

func openLocal(path, kdir string) (*Kernel, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("local kernel: %w", err)
	}
	k := &Kernel{Origin: "local", InPlace: true}
	if info.IsDir() {
		k.Dir, k.KDir = path, path
		k.BzImage = filepath.Join(path, treeImage())
		if _, err := os.Stat(k.BzImage); err != nil {
			return nil, fmt.Errorf("local kernel %s: no %s (is it a built kernel tree? run make there)", path, treeImage())
		}
		if ok, _ := HasPVHNote(filepath.Join(path, "vmlinux")); ok {
			k.Vmlinux = filepath.Join(path, "vmlinux")
		}
	} else {
		k.Dir, k.BzImage, k.KDir = filepath.Dir(path), path, kdir
		if ok, _ := HasPVHNote(path); ok {
			k.Vmlinux = path
		}
	}
	if k.KDir != "" {
		if _, err := os.Stat(filepath.Join(k.KDir, "Module.symvers")); err != nil {
			return nil, fmt.Errorf("local kernel: %s has no Module.symvers: build the kernel (make modules) before building modules against it", k.KDir)
		}
		if config := filepath.Join(k.KDir, ".config"); exists(config) {
			k.Config = config
		}
		if sm := filepath.Join(k.KDir, "System.map"); RealSystemMap(sm) {
			k.SystemMap = sm
		}
		if b, err := os.ReadFile(filepath.Join(k.KDir, "include", "config", "kernel.release")); err == nil {
			k.ABI = strings.TrimSpace(string(b))
		}
		k.Compiler, k.CompilerText = DetectCompiler(k.KDir, k.Config)
	}
	if k.ABI == "" {
		k.ABI = filepath.Base(path)
	}
	k.Name = k.ABI
	return k, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
