package kbuild_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// On a kernel with gcov, a Coverage build of the bundled driver leaves a
// .gcno beside each object without a line of its Kbuild changed, and a
// build restored from the cache has them too, at the same relative places.
func TestCoverageBuildLeavesNotesThatTheCacheKeeps(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a debug kernel; not in -short mode")
	}
	// Source-built kernels come from vmtest's fetcher, which has their
	// provider; the cache is the shared one.
	sel, err := kernel.ParseSelector(kerneltest.DebugMatrix()[0])
	if err != nil {
		t.Fatal(err)
	}
	k, err := vmtest.NewFetcher(kernel.DefaultCacheDir(), false, nil, nil).Fetch(t.Context(), sel)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	o := kbuild.Options{Source: filepath.Join("..", "..", "kmod"), Out: t.TempDir(), Coverage: true, CacheDir: cache}
	r, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.Notes, "mmapdrv.gcno") || r.WorkDir != r.BuildDir {
		t.Fatalf("notes %q in %s (built in %s), want mmapdrv.gcno there", r.Notes, r.WorkDir, r.BuildDir)
	}
	if !strings.Contains(string(r.Log), "GCOV_PROFILE=y") {
		t.Errorf("the log does not show make's GCOV_PROFILE=y")
	}
	o.Out = t.TempDir()
	again, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Duration != 0 || again.BuildDir != r.BuildDir || !slices.Equal(again.Notes, r.Notes) {
		t.Fatalf("second build: duration %v, build dir %s, notes %q; want the cached one", again.Duration, again.BuildDir, again.Notes)
	}
	for _, n := range again.Notes {
		want, _ := os.ReadFile(filepath.Join(r.WorkDir, n))
		got, err := os.ReadFile(filepath.Join(again.WorkDir, n))
		if err != nil || string(got) != string(want) || len(got) == 0 {
			t.Errorf("restored %s: %v (%d bytes, want %d)", n, err, len(got), len(want))
		}
	}
	o.Out, o.Coverage = t.TempDir(), false
	plain, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), o)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Duration == 0 || len(plain.Notes) != 0 {
		t.Errorf("a build without coverage came from the coverage build's cache entry (notes %q)", plain.Notes)
	}
}

// A stock kernel has no CONFIG_GCOV_KERNEL: GCOV_PROFILE=y adds nothing,
// and the build says so instead of handing back a module without data.
func TestCoverageBuildOnAKernelWithoutGcovFails(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	_, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), kbuild.Options{Source: filepath.Join("..", "..", "kmod"), Out: t.TempDir(), Coverage: true})
	if !errors.Is(err, kbuild.ErrBuild) || !strings.Contains(err.Error(), "no .gcno") {
		t.Errorf("err = %v, want ErrBuild naming the missing .gcno files", err)
	}
}
