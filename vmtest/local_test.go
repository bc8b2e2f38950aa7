package vmtest_test

import (
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/internal/zfile"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestLocalKernelImageWithKDir runs a kernel given as a boot image outside
// the cache plus a separate tree to build against, as a user with their own
// kernel build does (here: Debian's 6.1 PVH vmlinux, which its cache entry
// keeps compressed, unpacked, and its headers).
func TestLocalKernelImageWithKDir(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	img := filepath.Join(t.TempDir(), "vmlinux")
	if err := zfile.Unpack(k.Vmlinux, img); err != nil {
		t.Fatal(err)
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:  []string{img},
		KDir:     k.KDir,
		Modules:  []string{"../kmod"},
		Tests:    []string{"../guest/mmapdrv"},
		TestArgs: []string{"-test.run=TestSize|TestRead"},
		OutDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	kr := rep.Kernels[0]
	if kr.Status != report.Pass || kr.Origin != "local" {
		t.Fatalf("local kernel: %s (%s): %s", kr.Status, kr.Origin, kr.Error)
	}
	if c := kr.Counts(); c.Pass == 0 || c.Fail != 0 {
		t.Errorf("counts = %+v", c)
	}
}
