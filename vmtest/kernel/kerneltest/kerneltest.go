// Package kerneltest gives kmodvm's own tests real kernels: it fetches them
// through the shared kmodvm cache, so that a warm cache makes them instant
// and a fresh machine downloads each kernel once for the whole test run.
package kerneltest

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
)

// EnvKernels overrides the kernels that Matrix returns (comma-separated
// selectors).
const EnvKernels = "KMODVM_TEST_KERNELS"

// Default is the matrix the project supports: the one a run without
// kernels runs.
var Default = kernel.DefaultSelectors()

var (
	mu      sync.Mutex
	fetched = map[string]*kernel.Kernel{}
	fetcher = debianprov.NewFetcher(&kernel.Cache{Dir: kernel.DefaultCacheDir()}, false, nil)
)

// Get returns the kernel sel names, fetching it into the shared cache. In
// -short mode, tests that need a real kernel are skipped.
func Get(t testing.TB, sel string) *kernel.Kernel {
	t.Helper()
	return GetFor(t, sel, "")
}

// GetFor is Get of the kernel sel names for architecture archName ("" is
// the selector's own): "6.1" for i386 is 6.1.0-N-686-pae.
func GetFor(t testing.TB, sel, archName string) *kernel.Kernel {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real kernel; not in -short mode")
	}
	mu.Lock()
	defer mu.Unlock()
	key := sel + "/" + archName
	if k, ok := fetched[key]; ok {
		return k
	}
	s, err := kernel.ParseSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	k, err := fetcher.Fetch(t.Context(), s.WithArch(archName))
	if err != nil {
		t.Fatalf("fetch kernel %s: %v", sel, err)
	}
	fetched[key] = k
	return k
}

// EnvDebugKernels overrides the debug kernels that DebugMatrix returns.
const EnvDebugKernels = "KMODVM_TEST_DEBUG_KERNELS"

// DefaultDebug is the smallest set of source-built kernels that proves
// them in make test: one, because a cold build takes a quarter of an hour
// on two cores. make test-debug runs the whole set.
var DefaultDebug = []string{"6.1-debug"}

// DebugMatrix returns the selectors of the debug kernels to test on:
// $KMODVM_TEST_DEBUG_KERNELS or DefaultDebug.
func DebugMatrix() []string {
	if v := os.Getenv(EnvDebugKernels); v != "" {
		return strings.Split(v, ",")
	}
	return DefaultDebug
}

// Matrix returns the selectors of the kernels to test on: $KMODVM_TEST_KERNELS
// or Default.
func Matrix() []string {
	if v := os.Getenv(EnvKernels); v != "" {
		return strings.Split(v, ",")
	}
	return Default
}
