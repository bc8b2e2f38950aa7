package debianprov_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

func TestFetchedKernelsBootThroughPVH(t *testing.T) {
	for _, sel := range kerneltest.Matrix() {
		t.Run(sel, func(t *testing.T) {
			k := kerneltest.Get(t, sel)
			if k.Vmlinux == "" {
				t.Fatalf("%s has no PVH vmlinux", k.Name)
			}
			ok, err := kernel.HasPVHNote(k.Vmlinux)
			if err != nil || !ok {
				t.Errorf("HasPVHNote(%s) = %v, %v", k.Vmlinux, ok, err)
			}
			for what, p := range map[string]string{"config": k.Config, "modules.dep": filepath.Join(k.ModulesDir, "modules.dep"), "headers Makefile": filepath.Join(k.KDir, "Makefile")} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
			if k.BzImage != "" {
				t.Errorf("the entry keeps the bzImage %s, which a PVH kernel does not need", k.BzImage)
			}
			checkExportersKept(t, k)
			if !strings.HasPrefix(k.Compiler, "gcc-") {
				t.Errorf("Compiler = %q, want gcc-N", k.Compiler)
			}
		})
	}
}

// checkExportersKept: the entry keeps, of its modules, at least every one
// that exports a symbol (an out-of-tree module can need it), and far fewer
// than all.
func checkExportersKept(t *testing.T, k *kernel.Kernel) {
	t.Helper()
	symvers, err := os.ReadFile(filepath.Join(k.KDir, "Module.symvers"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := moddep.Read(k.ModulesDir)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range idx {
		listed[strings.TrimPrefix(e.Path[:strings.LastIndex(e.Path, ".ko")], "kernel/")] = true
		if _, err := os.Stat(filepath.Join(k.ModulesDir, e.Path)); err != nil {
			t.Errorf("modules.dep lists %s: %v", e.Path, err)
		}
	}
	exporters := map[string]bool{}
	for _, line := range strings.Split(string(symvers), "\n") {
		if f := strings.Split(line, "\t"); len(f) >= 3 && f[2] != "vmlinux" {
			exporters[f[2]] = true
			if !listed[f[2]] {
				t.Errorf("%s exports %s but is not in modules.dep", f[2], f[1])
			}
		}
	}
	if len(exporters) == 0 || len(listed) > 2*len(exporters) {
		t.Errorf("%d modules kept for %d that export symbols", len(listed), len(exporters))
	}
}

func TestSecondFetchNeedsNoNetwork(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	// Offline forbids apt: the fetch must be served by the cache alone.
	f := debianprov.NewFetcher(&kernel.Cache{Dir: kernel.DefaultCacheDir()}, true, nil)
	for _, s := range []string{"6.1", k.ABI} {
		sel, _ := kernel.ParseSelector(s)
		got, err := f.Fetch(t.Context(), sel)
		if err != nil {
			t.Fatalf("offline Fetch(%s): %v", s, err)
		}
		if got.ID != k.ID {
			t.Errorf("offline Fetch(%s) = entry %s, want %s", s, got.ID, k.ID)
		}
	}
}

// fetchInChild is run by TestConcurrentFetchesLeaveOneEntry in child
// processes, so that the cache's locking is tested across processes.
func TestMain(m *testing.M) {
	if dir := os.Getenv("KMODVM_TEST_FETCH_CHILD"); dir != "" {
		f := debianprov.NewFetcher(&kernel.Cache{Dir: dir}, false, nil)
		sel, _ := kernel.ParseSelector(os.Getenv("KMODVM_TEST_FETCH_SEL"))
		k, err := f.Fetch(context.Background(), sel)
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(1)
		}
		os.Stdout.WriteString(k.ID)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestConcurrentFetchesLeaveOneEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads a kernel")
	}
	kerneltest.Get(t, "6.1") // the shared archive index, fresh
	dir := t.TempDir()
	// Share the archive index (not the kernels) with the main cache.
	shared := (&kernel.Cache{Dir: kernel.DefaultCacheDir()}).Layout().Apt()
	if err := os.Symlink(shared, (&kernel.Cache{Dir: dir}).Layout().Apt()); err != nil {
		t.Fatal(err)
	}
	const sel = "6.1-cloud" // the smallest amd64 image
	var cmds []*exec.Cmd
	outs := make([]*strings.Builder, 2)
	for i := range outs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KMODVM_TEST_FETCH_CHILD="+dir, "KMODVM_TEST_FETCH_SEL="+sel)
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v: %s", i, err, outs[i])
		}
	}
	if outs[0].String() != outs[1].String() {
		t.Fatalf("children got different entries: %q and %q", outs[0], outs[1])
	}
	c := &kernel.Cache{Dir: dir}
	good, bad := c.List()
	if len(good) != 1 || len(bad) != 0 {
		t.Fatalf("cache holds %d good and %d bad entries, want exactly one good", len(good), len(bad))
	}
	ents, _ := os.ReadDir(c.Layout().Kernels())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temporary %s", e.Name())
		}
	}

	// What the kernel needs is unpacked in its entry: the packages are
	// gone once both fetches ended, and the headers keep x86's arch/ only.
	if debs, _ := filepath.Glob(filepath.Join(c.Layout().Debs(), "*")); len(debs) > 0 {
		t.Errorf("packages left after the fetches: %q", debs)
	}
	k := good[0]
	arches, _ := filepath.Glob(filepath.Join(k.Dir, "root", "usr", "src", "*", "arch", "*"))
	for _, a := range arches {
		if fi, err := os.Stat(a); err == nil && fi.IsDir() && filepath.Base(a) != "x86" {
			t.Errorf("headers of another architecture kept: %s", a)
		}
	}
	if len(arches) == 0 {
		t.Errorf("no arch/ in the entry's headers")
	}

	// A damaged entry is noticed and made again, its packages downloaded
	// again.
	if err := os.Truncate(k.Vmlinux, 100); err != nil {
		t.Fatal(err)
	}
	f := debianprov.NewFetcher(c, false, nil)
	s, _ := kernel.ParseSelector(sel)
	again, err := f.Fetch(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := kernel.HasPVHNote(again.Vmlinux); err != nil || !ok {
		t.Errorf("re-fetched vmlinux is not a PVH ELF: %v %v", ok, err)
	}
	if _, err := c.Get(k.ID); err != nil {
		t.Errorf("entry still damaged after re-fetch: %v", err)
	}
}

func TestUnknownKernelFailsWithSuggestions(t *testing.T) {
	kerneltest.Get(t, "6.1")
	f := debianprov.NewFetcher(&kernel.Cache{Dir: kernel.DefaultCacheDir()}, true, nil)
	sel, _ := kernel.ParseSelector("6.3")
	_, err := f.Fetch(t.Context(), sel)
	if !errors.Is(err, kernel.ErrNotFound) || !strings.Contains(err.Error(), "nearest available") {
		t.Errorf("Fetch(6.3) = %v, want ErrNotFound with suggestions", err)
	}
}
