package debianprov

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// layoutDebian finds the parts of an unpacked Debian kernel under root and
// prepares them: linux-image-* packages put them in /boot and /lib/modules,
// 6.19 and later's linux-binary/-modules/-base in /usr/lib/modules/<abi>.
func layoutDebian(ctx context.Context, root string, k *kernel.Kernel) error {
	abi := k.ABI
	modDir := firstExisting(
		filepath.Join(root, "lib", "modules", abi),
		filepath.Join(root, "usr", "lib", "modules", abi))
	if modDir == "" {
		return fmt.Errorf("no lib/modules/%s in the packages", abi)
	}
	k.ModulesDir = modDir
	// POWER's package ships the ELF vmlinux, no vmlinuz.
	k.BzImage = firstExisting(filepath.Join(root, "boot", "vmlinuz-"+abi), filepath.Join(modDir, "vmlinuz"),
		filepath.Join(root, "boot", "vmlinux-"+abi), filepath.Join(modDir, "vmlinux"))
	if k.BzImage == "" {
		return fmt.Errorf("no vmlinuz for %s in the packages", abi)
	}
	k.Config = firstExisting(filepath.Join(root, "boot", "config-"+abi), filepath.Join(modDir, "config"))
	if sm := firstExisting(filepath.Join(root, "boot", "System.map-"+abi), filepath.Join(modDir, "System.map")); kernel.RealSystemMap(sm) {
		k.SystemMap = sm
	}
	k.KDir = filepath.Join(root, "usr", "src", "linux-headers-"+abi)
	if err := relocateHeaders(root, k.KDir); err != nil {
		return err
	}
	k.Compiler, k.CompilerText = kernel.DetectCompiler(k.KDir, k.Config)
	a, err := arch.Lookup(k.Arch)
	if err != nil {
		return err
	}
	if err := kernel.Depmod(ctx, root, abi, modDir); err != nil {
		return err
	}
	if err := pruneModules(modDir, k.KDir, a.ChannelModules); err != nil {
		return err
	}
	if err := compressModules(ctx, modDir); err != nil {
		return err
	}
	if err := kernel.Depmod(ctx, root, abi, modDir); err != nil {
		return err
	}
	if err := pruneOtherArches(root, a.KernelArch); err != nil {
		return err
	}
	// arm64's device trees (119 MB for 7.3) describe boards; QEMU's
	// virt machine makes its own.
	for _, dtbs := range []string{filepath.Join(root, "usr", "lib", "linux-image-"+abi), filepath.Join(modDir, "dtb")} {
		if err := os.RemoveAll(dtbs); err != nil {
			return err
		}
	}
	return keepBootImage(root, k, a)
}

// keepBootImage keeps, of the kernel's images, the one QEMU boots,
// compressed: arm64's and RISC-V's raw Image, 32-bit Arm's zImage, POWER's ELF
// vmlinux, or amd64's PVH vmlinux instead of the bzImage when the kernel
// has a PVH entry.
func keepBootImage(root string, k *kernel.Kernel, a *arch.Arch) error {
	if a.Image == arch.ZImage {
		// Debian's vmlinuz is the zImage QEMU boots, compressed already.
		return nil
	}
	if a.Image == arch.ELFVmlinux {
		// QEMU boots the ELF as it is; kept compressed (40-60 MB
		// raw), unpacked per VM.
		vmlinux, err := compressKernel(k.BzImage)
		k.Vmlinux, k.BzImage = vmlinux, ""
		return err
	}
	if a.Image == arch.ArmImage || a.Image == arch.RiscvImage {
		// The raw Image QEMU boots (30-40 MB) is kept compressed like
		// amd64's vmlinux, and unpacked per VM.
		img, err := flatImage(k.BzImage, filepath.Join(filepath.Dir(root), "Image"), a.Image == arch.RiscvImage)
		if err != nil {
			return err
		}
		if img != k.BzImage {
			os.Remove(k.BzImage) // the gzip-compressed Image
		}
		k.BzImage, err = compressKernel(img)
		return err
	}
	vmlinux := filepath.Join(filepath.Dir(root), "vmlinux")
	switch err := kernel.ExtractVmlinux(k.BzImage, vmlinux); {
	case err == nil:
		if k.Vmlinux, err = compressKernel(vmlinux); err != nil {
			return err
		}
		// A stock kernel boots through PVH: its bzImage (14 MB for
		// 7.3) is not kept. Only the debug kernels kmodvm builds
		// need it, when their PVH entry resets (see vmtest's boot).
		if err := os.Remove(k.BzImage); err != nil {
			return err
		}
		k.BzImage = ""
	case errors.Is(err, kernel.ErrNoPVH):
		// Booting the bzImage works, only slower.
	default:
		return err
	}
	return nil
}

// pruneOtherArches removes the headers of the architectures the kernel is
// not built for: Debian's linux-headers-*-common carries every arch/
// directory (23 MB for 6.1, 3 MB of them x86's), and a module build reads
// only its own ARCH's.
func pruneOtherArches(root, keep string) error {
	dirs, err := filepath.Glob(filepath.Join(root, "usr", "src", "*", "arch", "*"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || filepath.Base(d) == keep {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

func firstExisting(paths ...string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// relocateHeaders rewrites the absolute /usr/src paths in Debian's
// arch-specific headers Makefile (which includes the common headers'
// Makefile, and from 7.x sets KBUILD_OUTPUT) into paths relative to the
// Makefile itself, so that the tree builds wherever the cache lives.
func relocateHeaders(root, kdir string) error {
	mk := filepath.Join(kdir, "Makefile")
	b, err := os.ReadFile(mk)
	if err != nil {
		return fmt.Errorf("headers: %w", err)
	}
	if bytes.Contains(b, []byte("kmodvm_src")) {
		return nil
	}
	const here = "kmodvm_src := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)\n"
	fixed := strings.ReplaceAll(string(b), "/usr/src/", "$(kmodvm_src)/")
	return os.WriteFile(mk, []byte(here+fixed), 0o644)
}
