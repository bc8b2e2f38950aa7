package vmtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestExternalModuleWithInKernelDependency runs a module from outside this
// repository (copied to a temporary directory), whose Go tests are a module
// of their own and which needs crc-itu-t from the kernel's modules tree:
// plain .ko on 6.1, .ko.xz under lib/crc/ on 7.3.
func TestExternalModuleWithInKernelDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("boots kernels")
	}
	dir := filepath.Join(t.TempDir(), "crcdemo")
	if out, err := exec.Command("cp", "-r", "../testdata/extmod", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v: %s", err, out)
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels: []string{"6.1", "7.3"},
		Modules: []string{dir},
		Tests:   []string{filepath.Join(dir, "test")},
		Params:  []string{"crcdemo.seed=4660"},
		OutDir:  t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kernels {
		if k.Status != report.Pass {
			t.Errorf("%s: %s: %s", k.Name, k.Status, k.Error)
			for _, tt := range k.Tests {
				t.Logf("%s %s\n%s", tt.Name, tt.Status, tt.Output)
			}
			continue
		}
		var dep, mod bool
		for _, m := range k.Modules {
			dep = dep || (m.Dep && m.Name == "crc_itu_t")
			mod = mod || (m.Name == "crcdemo" && m.Params == "seed=4660" && m.Load == report.Pass)
		}
		if !dep || !mod {
			t.Errorf("%s: modules = %+v, want crc_itu_t as a dependency and crcdemo with seed=4660", k.Name, k.Modules)
		}
		if c := k.Counts(); c.Pass != 3 {
			t.Errorf("%s: %d tests passed, want 3", k.Name, c.Pass)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "crcdemo.ko")); err == nil {
		t.Error("the build wrote into the module's source directory")
	}
}
