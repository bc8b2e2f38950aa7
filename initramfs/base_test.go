package initramfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/internal/cachedir"
)

// sharedCache is one cache for the whole package's tests, so that the slow
// mkuimage build of the base layer happens once.
var sharedCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "initramfs-test-")
	if err != nil {
		panic(err)
	}
	sharedCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var baseOnce = sync.OnceValues(func() (string, error) {
	return (&Builder{CacheDir: sharedCache}).Base(context.Background())
})

func baseLayer(t testing.TB) string {
	t.Helper()
	p, err := baseOnce()
	if err != nil {
		t.Fatalf("Base: %v", err)
	}
	return p
}

func TestBaseHoldsAgentAsInit(t *testing.T) {
	p := baseLayer(t)
	recs := readLayer(t, p)
	init, ok := recs["init"]
	if !ok {
		t.Fatalf("no /init in %s: %v", p, names(recs))
	}
	if string(init.Data) != "bin/kmodvm-agent" {
		t.Errorf("/init -> %q, want bin/kmodvm-agent", init.Data)
	}
	for _, want := range []string{"dev/console", "bin/kmodvm-agent", "tmp"} {
		if _, ok := recs[want]; !ok {
			t.Errorf("no %s in base layer", want)
		}
	}
	again, err := (&Builder{CacheDir: sharedCache}).Base(context.Background())
	if err != nil || again != p {
		t.Errorf("second Base = %q, %v; want cached %q", again, err, p)
	}
}

// Cancelling a base build stops it (the go command and its compilers with
// it) and leaves nothing in the cache; the build is not finished regardless.
func TestBaseBuildStopsWhenCanceled(t *testing.T) {
	// -a makes the agent's build take tens of seconds, whatever the go
	// build cache holds, so that the cancel lands while it runs; GOFLAGS is
	// part of the layer's key, so no cached layer answers either.
	t.Setenv("GOFLAGS", "-a")
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := (&Builder{CacheDir: cache}).Base(ctx)
		done <- err
	}()
	time.Sleep(2 * time.Second)
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Base after cancel: %v, want context.Canceled", err)
	}
	if layers, _ := filepath.Glob(filepath.Join(cachedir.Layout{Root: cache}.Layers(), "base-*.cpio")); len(layers) != 0 {
		t.Errorf("a canceled build left %v", layers)
	}
}
