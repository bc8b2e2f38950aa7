package srcbuild

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// A fixup is a change to the source every version of a series needs for
// kmodvm's configurations to work, written as code because its context
// differs between versions (a patch file would not apply to all). Its name
// and version are part of the kernel's ID.
type fixup struct {
	name string
	fn   func(tree string, a *arch.Arch) error
}

// fixups run in order after unpacking.
var fixups = []fixup{
	{"pvh-no-kasan-1", pvhNoKASAN},
}

// pvhNoKASAN keeps KASAN out of the PVH entry code. QEMU enters a PVH
// vmlinux at xen_prepare_pvh(), C code that runs before the kernel has set
// up KASAN's shadow memory: instrumented, its first memory access faults
// and the guest triple-faults at once. Upstream disabled KASAN for this
// directory (6.12 and 7.x ship with it); 5.10 and 6.1 need it added.
func pvhNoKASAN(tree string, a *arch.Arch) error {
	if a.PVHSource == "" {
		return nil // booted without PVH
	}
	mk := filepath.Join(tree, filepath.FromSlash(a.PVHSource), "Makefile")
	b, err := os.ReadFile(mk)
	if os.IsNotExist(err) {
		return nil // no PVH in this tree: nothing to keep KASAN out of
	}
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte("KASAN_SANITIZE := n")) {
		return nil
	}
	b = append(b, []byte("\n# kmodvm: runs before the KASAN shadow exists (see srcbuild/fixup.go).\nKASAN_SANITIZE := n\n")...)
	if err := os.WriteFile(mk, b, 0o644); err != nil {
		return fmt.Errorf("fixup pvh-no-kasan: %w", err)
	}
	return nil
}
