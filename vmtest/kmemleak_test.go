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

// seededLeak copies kmod/ into a directory of the test's and makes its
// exit forget the buffer its init allocated: the copy is made from the
// driver as it is now, so the seeded bug cannot drift from it. It
// returns the copy's directory and the driver's source.
func seededLeak(t *testing.T) (dir, source string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "kmod")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "kmod"))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mmapdrv.c")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	const exit, free = "static void __exit mmapdrv_exit(void)\n{", "\tvfree(drv->buf);\n"
	i := strings.Index(text, exit)
	end := strings.Index(text[max(i, 0):], "\n}\n")
	if i < 0 || end < 0 || strings.Count(text[i:i+end+1], free) != 1 {
		t.Fatalf("%s: no %q with one %q in it: the seeded leak needs a new recipe", path, exit, strings.TrimSpace(free))
	}
	text = text[:i] + strings.Replace(text[i:], free, "", 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, text
}

// A driver whose exit forgets the buffer its init allocated leaks it at
// every unload: the agent's, and each of the suite's own reloads
// (guest/testenv). On the debug kernels that is exactly one finding, in
// the driver's init, at the line that allocates the buffer, counted once
// per buffer with their bytes summed; it fails no test, and nothing else
// leaks: no object is blamed on the KUnit module loaded where the
// driver's init code was, nor called the kernel's own.
func TestKmemleakSeededLeakAtUnloadIsOneFindingInTheDriversInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots debug kernels; not in -short mode")
	}
	dir, source := seededLeak(t)
	line := lineOf(t, source, "drv->buf = vmalloc_user(")
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels: kerneltest.DebugMatrix(),
		Modules: []string{dir},
		Tests:   []string{filepath.Join("..", "guest", "mmapdrv")},
		OutDir:  t.TempDir(),
		CPUs:    2,
		Log:     testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kernels {
		if k.Boot == nil || k.Boot.Status != report.Pass {
			t.Errorf("%s: the VM did not run to its end: %s", k.Name, k.Error)
			continue
		}
		var leaks []report.Finding
		for _, f := range k.Findings {
			if f.Kind == "memory leak" {
				leaks = append(leaks, f)
			}
		}
		if len(leaks) != 1 {
			for _, f := range leaks {
				t.Logf("%s: %s (%s)\n%s", k.Name, f.Headline(), f.Seen(), f.Trace())
			}
			t.Fatalf("%s: %d leak findings, want 1", k.Name, len(leaks))
		}
		f := leaks[0]
		src, ok := f.Source()
		t.Logf("%s: %s (%s) at %s", k.Name, f.Headline(), f.Seen(), src.Where())
		if f.Title != "memory leak in mmapdrv_init" || f.Module != "mmapdrv" || f.Step != "load mmapdrv" || f.Test != "" {
			t.Errorf("%s: %q module %q %s, want memory leak in mmapdrv_init during load mmapdrv", k.Name, f.Title, f.Module, f.Where())
		}
		if !ok || src.File != filepath.Join(dir, "mmapdrv.c") || src.Line != line {
			t.Errorf("%s: the leak is at %q, want %s:%d", k.Name, src.Where(), filepath.Join(dir, "mmapdrv.c"), line)
		}
		// The agent's load and at least one reload; each buffer a page
		// or more.
		if f.Occurrences() < 2 || f.Bytes < uint64(f.Occurrences())*4096 {
			t.Errorf("%s: ×%d, %d bytes", k.Name, f.Occurrences(), f.Bytes)
		}
		for _, tt := range k.Tests {
			if tt.Status.Failed() {
				t.Errorf("%s: %s: %s failed", k.Name, tt.Package, tt.Name)
			}
		}
	}
}
