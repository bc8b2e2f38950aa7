package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Local returns a kernel built by the user. path is either a kernel build
// tree (arch/x86/boot/bzImage, vmlinux, Module.symvers) or a boot image, in
// which case kdir names the tree to build modules against. Local kernels
// are used in place and not copied into the cache.
func (f *Fetcher) Local(ctx context.Context, path, kdir string) (*Kernel, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("local kernel: %w", err)
	}
	k := &Kernel{Origin: "local"}
	if info.IsDir() {
		k.Dir, k.KDir = path, path
		k.BzImage = filepath.Join(path, "arch", "x86", "boot", "bzImage")
		if _, err := os.Stat(k.BzImage); err != nil {
			return nil, fmt.Errorf("local kernel %s: no arch/x86/boot/bzImage (is it a built kernel tree? run make bzImage there)", path)
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
		k.Config = firstExisting(filepath.Join(k.KDir, ".config"))
		if sm := filepath.Join(k.KDir, "System.map"); realSystemMap(sm) {
			k.SystemMap = sm
		}
		if b, err := os.ReadFile(filepath.Join(k.KDir, "include", "config", "kernel.release")); err == nil {
			k.ABI = strings.TrimSpace(string(b))
		}
		k.Compiler, k.CompilerText = detectCompiler(k.KDir, k.Config)
	}
	if k.ABI == "" {
		k.ABI = filepath.Base(path)
	}
	k.Name = k.ABI
	h := sha256.New()
	fmt.Fprintf(h, "local %s %d %d", path, info.Size(), info.ModTime().UnixNano())
	k.Key = hex.EncodeToString(h.Sum(nil))[:16]
	return k, nil
}
