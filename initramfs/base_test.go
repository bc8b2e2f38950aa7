package initramfs

import (
	"context"
	"os"
	"sync"
	"testing"
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
