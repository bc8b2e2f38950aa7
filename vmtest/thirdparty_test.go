package vmtest_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestV4L2LoopbackLoadsOnTheDebugKernel builds Debian's v4l2loopback-dkms
// source, a real third-party driver that needs videodev and mc from the
// kernel, and loads and unloads it on the debug kernels as on stock ones:
// their in-kernel dependencies must be there, and KASAN, lockdep and
// kmemleak must find nothing in its load and unload.
func TestV4L2LoopbackLoadsOnTheDebugKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots debug kernels; not in -short mode")
	}
	dir := t.TempDir()
	get := exec.Command("apt-get", "download", "v4l2loopback-dkms")
	get.Dir = dir
	if out, err := get.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download v4l2loopback-dkms (the host's apt lists must be current: apt-get update): %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "v4l2loopback-dkms_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("downloaded %v", debs)
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], filepath.Join(dir, "x")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	src, _ := filepath.Glob(filepath.Join(dir, "x", "usr", "src", "v4l2loopback-*"))
	if len(src) != 1 {
		t.Fatalf("sources: %v", src)
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{Kernels: kerneltest.DebugMatrix(), Modules: src, OutDir: filepath.Join(dir, "out")})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kernels {
		deps := map[string]bool{}
		for _, m := range k.Modules {
			if m.Load != report.Pass {
				t.Errorf("%s: loading %s: %s", k.Name, m.Name, m.Error)
			}
			deps[m.Name] = m.Dep
		}
		if !deps["videodev"] || !deps["mc"] {
			t.Errorf("%s: videodev and mc were not loaded from the kernel: %+v", k.Name, k.Modules)
		}
		if k.Status != report.Pass {
			t.Errorf("%s: %s: %s", k.Name, k.Status, k.Error)
		}
	}
}
