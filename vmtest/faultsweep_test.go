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
// turn: the one point that fails the init's second allocation leaks the
// first, a kmemleak finding of that point alone at the first
// allocation's line, its failure site the second allocation's line.
// Every other point is clean (the loader's own failures, the third
// allocation's, whose unwinding is right), and so are the suite and the
// unload sweep.
func TestInjectFaultsNamesTheSeededLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots a debug kernel; not in -short mode")
	}
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "sweepmod"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "sweepmod.c"))
	if err != nil {
		t.Fatal(err)
	}
	leakLine, siteLine := lineOf(t, string(src), "s = kzalloc("), lineOf(t, string(src), "s->table = kcalloc(")
	start := time.Now()
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels:      kerneltest.DebugMatrix()[:1],
		Modules:      []string{dir},
		Tests:        []string{filepath.Join(dir, "test")},
		InjectFaults: true,
		OutDir:       t.TempDir(),
		Log:          testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	if k.Boot == nil || k.Boot.Status != report.Pass {
		t.Fatalf("%s: the VM did not run to its end: %s", k.Name, k.Error)
	}
	points, leaky := sweepPoints(t, k)
	t.Logf("%s: %d points in %v (the whole run), %.1f s in the VM's tests phase", k.Name, len(points), time.Since(start).Round(time.Second), k.Timing.Tests)
	if leaky == nil {
		t.Fatalf("%s: no point has a finding; want the leak", k.Name)
	}
	f := k.Findings[leaky.Findings[0]]
	at, ok := f.Source()
	if f.Kind != "memory leak" || !ok || at.File != filepath.Join(dir, "sweepmod.c") || at.Line != leakLine {
		t.Errorf("%s: %s: %s at %s, want a memory leak at sweepmod.c:%d", k.Name, leaky.Name, f.Headline(), at.Where(), leakLine)
	}
	site := leaky.Fault.Site()
	if site == nil || site.Module != "sweepmod" || site.Line != siteLine || leaky.Fault.Errno != 12 {
		t.Errorf("%s: %s failed at %s with errno %d, want sweepmod.c:%d and ENOMEM", k.Name, leaky.Name, leaky.Fault.SiteText(), leaky.Fault.Errno, siteLine)
	}
	for _, tt := range k.Tests {
		if tt.Fault == nil && tt.Status != report.Pass {
			t.Errorf("%s: %s: %s %s", k.Name, tt.Package, tt.Name, tt.Status)
		}
	}
}

// sweepPoints returns k's sweep points and the one with findings,
// failing t if another has any or the load sweep did not reach the
// module's own allocations.
func sweepPoints(t *testing.T, k *report.Kernel) (points []*report.Test, leaky *report.Test) {
	t.Helper()
	inModule := 0
	for _, tt := range k.Tests {
		if tt.Fault == nil {
			continue
		}
		points = append(points, tt)
		if s := tt.Fault.Site(); s != nil && s.Module == "sweepmod" && tt.Fault.Op == "load" {
			inModule++
		}
		if tt.Status == report.Pass {
			continue
		}
		if leaky != nil || len(tt.Findings) == 0 {
			t.Errorf("%s: %s %s:\n%s", k.Name, tt.Name, tt.Status, tt.Output)
			continue
		}
		leaky = tt
	}
	if inModule != 3 || !strings.HasPrefix(points[0].Name, "load/sweepmod/fail-nth=") {
		t.Errorf("%s: %d load points failed in sweepmod's code, want its 3 allocations", k.Name, inModule)
	}
	return points, leaky
}
