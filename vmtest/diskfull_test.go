package vmtest_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// fill writes zeros to path until the file system is full.
func fill(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Errorf("fill: %v", err)
		return
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("fill: %v", err)
			}
			return
		}
	}
}

// The disk holding the artifacts fills while a VM runs (not before): the
// kernel whose console.log or events.jsonl could not be written is an
// infrastructure error naming the file and the disk's error, not a kernel
// that "powered off without finishing"; once space is back, the next
// kernel of the run is unaffected.
func TestHostFaultDiskFillsDuringTheRun(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root")
	}
	out := t.TempDir()
	if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "kmodvm-test-fills", out).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, b)
	}
	defer exec.Command("umount", out).Run()
	filler := filepath.Join(out, "filler")
	var mu sync.Mutex
	victim := ""
	cfg := vmtest.Config{
		Kernels:  []string{"6.1", "5.10"},
		Modules:  []string{"../testdata/faultmod"},
		Tests:    []string{"../testdata/faultmod/guest"},
		TestArgs: []string{"-test.run=^TestAPass$"},
		OutDir:   out,
		Jobs:     1,
		// The first kernel to boot gets its disk filled as its agent says
		// hello; the disk is freed when it is done.
		Progress: func(s vmtest.Step) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case s.Phase == vmtest.PhaseTests && victim == "":
				victim = s.Kernel
				fill(t, filler)
			case s.Phase == vmtest.PhaseDone && s.Kernel == victim:
				os.Remove(filler)
			}
		},
	}
	rep := hostRun(t, cfg)
	for _, k := range rep.Kernels {
		if k.Name != victim {
			wantPass(t, k)
			continue
		}
		if k.Status != report.Error || !strings.Contains(k.Error, "no space left on device") || !strings.Contains(k.Error, filepath.Join(out, k.Name)) {
			t.Errorf("%s: %s %q, want an infrastructure error naming the artifact and the full disk", k.Name, k.Status, k.Error)
		}
		if k.Boot == nil || k.Boot.Attempt != 1 {
			t.Errorf("%s: boot %+v, want one attempt: a full disk is not mended by booting again", k.Name, k.Boot)
		}
		// The decoder went on: the guest's results are all there.
		if c := k.Counts(); c.Pass == 0 {
			t.Errorf("%s: counts %+v, want the tests' results decoded despite the disk", k.Name, c)
		}
	}
}
