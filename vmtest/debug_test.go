package vmtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// TestDebugKernelRunsTheBundledSuiteClean builds the debug kernels from
// Debian's sources (cached after the first time), runs the bundled driver's
// suite on them, and checks that the sanitizers were really there and
// found nothing: a clean run on a kernel without them would prove nothing.
// guest/failnth's own guest tests run there too: the kernel's fault
// injection, which the suite's sweeps use, counts as they expect.
func TestDebugKernelRunsTheBundledSuiteClean(t *testing.T) {
	out := t.TempDir()
	rep := vmtest.Run(t, vmtest.Config{
		Kernels: kerneltest.DebugMatrix(),
		Modules: []string{filepath.Join("..", "kmod")},
		Tests:   []string{filepath.Join("..", "guest", "mmapdrv"), filepath.Join("..", "guest", "failnth")},
		OutDir:  out,
		CPUs:    2,
		Log:     testLog{t},
	})
	for _, k := range rep.Kernels {
		if k.Provider != "source" || k.Variant == "" || !strings.HasSuffix(k.ABI, "-"+k.Variant) {
			t.Errorf("%s: provider %q variant %q ABI %q, want a source-built debug kernel", k.Name, k.Provider, k.Variant, k.ABI)
		}
		if k.Variant == "debug" {
			wantPassed(t, k, "failnth", "TestSignalWhileArmedIsNotFailed")
		}
		dmesg, err := os.ReadFile(k.Files["dmesg.txt"])
		if err != nil {
			t.Errorf("%s: %v", k.Name, err)
			continue
		}
		want := []string{"Kernel memory leak detector initialized", "Lock dependency validator"}
		if k.Variant == "kcsan" {
			want = append(want, "kcsan: enabled")
		} else {
			want = append(want, "KernelAddressSanitizer initialized")
		}
		for _, want := range want {
			if !strings.Contains(string(dmesg), want) {
				t.Errorf("%s: the kernel log lacks %q: is the sanitizer built in?", k.Name, want)
			}
		}
		for _, f := range k.Findings {
			switch {
			case f.Kind == report.KindTaint:
			case f.KernelOwn():
				// The kernel's own bug, printed before the driver was
				// loaded: reported, never the driver's.
				t.Logf("%s: the kernel's own finding: %s", k.Name, f.Title)
			default:
				t.Errorf("%s: finding %s: %s (%s)", k.Name, f.Kind, f.Title, f.Where())
			}
		}
	}
}

// wantPassed checks that the test name of package pkg ran and passed on k.
func wantPassed(t *testing.T, k *report.Kernel, pkg, name string) {
	t.Helper()
	for _, tt := range k.Tests {
		if tt.Package == pkg && tt.Name == name {
			if tt.Status != report.Pass {
				t.Errorf("%s: %s %s is %s:\n%s", k.Name, pkg, name, tt.Status, tt.Output)
			}
			return
		}
	}
	t.Errorf("%s: %s %s did not run", k.Name, pkg, name)
}

// testLog sends the run's diagnostic lines (the kernel build's progress)
// to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
