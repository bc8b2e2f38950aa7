package vmtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// The sweep of testdata/sweepmod's load fails each injectable call in
// turn. Its init's three allocations are three failure sites of its own;
// the points that fail the second (one, or a few: a load's count of
// calls varies by the kernel's silent allocations) leak the first, a
// kmemleak finding at the first allocation's line. Every other site is
// clean (the loader's own, the first and third allocations', whose
// unwinding is right), and so are the suite and the unload sweep.
func TestInjectFaultsNamesTheSeededLeak(t *testing.T) {
	dir, file, src := sweepModule(t, "sweepmod")
	lines := []int{lineOf(t, src, "s = kzalloc("), lineOf(t, src, "s->table = kcalloc("),
		lineOf(t, src, "s->scratch = kmalloc(")}
	start := time.Now()
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:      kerneltest.DebugMatrix(),
		Modules:      []string{dir},
		Tests:        []string{filepath.Join(dir, "test")},
		InjectFaults: true,
		OutDir:       t.TempDir(),
		Log:          testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kernels {
		checkSweepmod(t, k, file, lines)
	}
	t.Logf("the run took %v", time.Since(start).Round(time.Second))
}

// checkSweepmod checks one kernel's sweep of testdata/sweepmod: the leak
// at the second allocation's site, every other site clean.
func checkSweepmod(t *testing.T, k *report.Kernel, file string, lines []int) {
	t.Helper()
	if k.Boot == nil || k.Boot.Status != report.Pass {
		t.Errorf("%s: the VM did not run to its end: %s", k.Name, k.Error)
		return
	}
	points := 0
	for _, tt := range k.Tests {
		if tt.Fault != nil {
			points++
		} else if tt.Status != report.Pass {
			t.Errorf("%s: %s: %s %s", k.Name, tt.Package, tt.Name, tt.Status)
		}
	}
	t.Logf("%s: %d points; the VM's tests phase %.1f s", k.Name, points, k.Timing.Tests)
	own := map[int]report.FaultSite{}
	for _, s := range k.FaultSites() {
		site := s.Points[0].Fault.Site()
		if s.InModule && site.FuncLine().File == file {
			own[site.FuncLine().Line] = s
			continue
		}
		if s.Worst != report.Pass {
			t.Errorf("%s: failures at %s: %s", k.Name, s.Site, s.Points[0].Output)
		}
	}
	for i, line := range lines {
		s, ok := own[line]
		switch {
		case !ok:
			t.Errorf("%s: no point failed the allocation at sweepmod.c:%d; sites %v", k.Name, line, own)
		case i == 1:
			wantLeak(t, k, s, file, lines[0])
		case s.Worst != report.Pass:
			t.Errorf("%s: failing sweepmod.c:%d: %s\n%s", k.Name, line, s.Worst, s.Points[0].Output)
		}
	}
}

// wantLeak checks that every point of site s failed with ENOMEM and
// leaked what the line of file allocated.
func wantLeak(t *testing.T, k *report.Kernel, s report.FaultSite, file string, line int) {
	t.Helper()
	for _, p := range s.Points {
		if p.Status != report.Fail || p.Fault.Errno != 12 || len(p.Findings) != 1 {
			t.Errorf("%s: %s: %s, errno %d, findings %v; want a failure, ENOMEM, the leak", k.Name, p.Name, p.Status, p.Fault.Errno, p.Findings)
			continue
		}
		f := k.Findings[p.Findings[0]]
		at, ok := f.Source()
		if own := at.FuncLine(); f.Kind != "memory leak" || !ok || own.File != file || own.Line != line {
			t.Errorf("%s: %s: %s at %s, want a memory leak at %s:%d", k.Name, p.Name, f.Headline(), at.Where(), file, line)
		}
	}
}

// With swallow=1 sweepmod's init stores through the NULL its third
// allocation's failure left: the point kills the kernel (KASAN's
// null-ptr-deref, a general protection fault). The VM booted after it
// goes on from there, in the first pass and in the later ones, with the
// sites the VMs before met: the second allocation's leak is still found,
// no point a VM died in runs again, and the suite runs on the module
// loaded as it is.
func TestInjectFaultsGoesOnAfterACrash(t *testing.T) {
	dir, file, src := sweepModule(t, "sweepmod")
	// The leak is of what the first allocation got, found at the points
	// failing the second.
	leakAt, crashAt := lineOf(t, src, "s = kzalloc("), lineOf(t, src, "*(u32 *)s->scratch =")
	start := time.Now()
	k := sweepInOneVM(t, vmtest.Config{Modules: []string{dir}, Tests: []string{filepath.Join(dir, "test")},
		Params: []string{"sweepmod.swallow=1"}})
	killed := map[int]string{}
	later, leak, crash := 0, false, false
	for _, tt := range k.Tests {
		switch {
		case tt.Fault == nil:
			if tt.Status != report.Pass {
				t.Errorf("%s: %s %s", tt.Package, tt.Name, tt.Status)
			}
			continue
		case strings.Contains(tt.Name, "/pass="):
			later++
		}
		if tt.Status == report.Crash {
			if by, ok := killed[tt.Fault.Nth]; ok {
				t.Errorf("%s ran again after %s killed a VM", tt.Name, by)
			}
			killed[tt.Fault.Nth] = tt.Name
		}
		for _, i := range tt.Findings {
			at, ok := k.Findings[i].Source()
			if !ok || at.FuncLine().File != file {
				continue
			}
			leak = leak || (k.Findings[i].Kind == "memory leak" && at.FuncLine().Line == leakAt)
			crash = crash || (tt.Status == report.Crash && at.FuncLine().Line == crashAt)
		}
	}
	t.Logf("%s: %d reboots; points VMs died in: %v; %d points of later passes; the run took %v", k.Name, len(k.Reboots), killed, later, time.Since(start).Round(time.Second))
	if len(k.Reboots) == 0 || len(killed) == 0 || !crash {
		t.Errorf("want a point that killed the VM at sweepmod.c:%d: reboots %d, killed %v", crashAt, len(k.Reboots), killed)
	}
	if later == 0 {
		t.Error("no later pass ran after the crash")
	}
	if !leak {
		t.Errorf("the leak at sweepmod.c:%d was not found", leakAt)
	}
}

// testdata/leftmod's init leaves its class registered when the
// allocation after it fails: the point that fails it, at the
// allocation's line, has the finding of what it left behind, and no
// later point is blamed for it.
func TestInjectFaultsNamesWhatAFailedLoadLeft(t *testing.T) {
	dir, file, src := sweepModule(t, "leftmod")
	line := lineOf(t, src, "leftmod_buf = kzalloc(")
	k := sweepInOneVM(t, vmtest.Config{Modules: []string{dir}})
	var blamed []string
	for _, tt := range k.Tests {
		for _, i := range tt.Findings {
			f := k.Findings[i]
			if f.Kind != "left behind" || !strings.Contains(f.Title, "/sys/class/leftmod") {
				continue
			}
			blamed = append(blamed, tt.Name)
			if site := tt.Fault.Site(); site == nil || site.FuncLine().File != file || site.FuncLine().Line != line {
				t.Errorf("%s left the class behind, its failure at %+v; want %s:%d", tt.Name, site, file, line)
			}
		}
	}
	if len(blamed) != 1 {
		t.Errorf("points blamed for /sys/class/leftmod: %v; want one", blamed)
	}
}

// sweepModule is testdata/<name>'s directory, its source file's path
// and text, for a debug kernel's sweep (skipped in -short mode).
func sweepModule(t *testing.T, name string) (dir, file, src string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and boots a debug kernel; not in -short mode")
	}
	dir, err := filepath.Abs(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, name+".c")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return dir, file, string(b)
}

// sweepInOneVM runs cfg's modules and tests with --inject-faults, in one
// sweep VM, on the first debug kernel, and returns its report.
func sweepInOneVM(t *testing.T, cfg vmtest.Config) *report.Kernel {
	t.Helper()
	cfg.Kernels, cfg.InjectFaults, cfg.SweepJobs = kerneltest.DebugMatrix()[:1], true, 1
	cfg.OutDir, cfg.Log = t.TempDir(), testLog{t}
	rep, err := vmtest.RunMatrix(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Kernels[0]
}
