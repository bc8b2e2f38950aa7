package initramfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	// The cancel lands once the go command builds the agent.
	for deadline := time.Now().Add(time.Minute); !agentBuilding(); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("Base ended before its go build was seen: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no go build of the agent started within a minute")
		}
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Base after cancel: %v, want context.Canceled", err)
	}
	if layers, _ := filepath.Glob(filepath.Join(cachedir.Layout{Root: cache}.Layers(), "base-*.cpio")); len(layers) != 0 {
		t.Errorf("a canceled build left %v", layers)
	}
}

// agentBuilding reports whether a go command this process started builds
// the agent (go build -o .../kmodvm-agent).
func agentBuilding() bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		argv := strings.Split(string(cmdline), "\x00")
		if filepath.Base(argv[0]) == "go" && strings.Contains(string(cmdline), "kmodvm-agent") {
			return true
		}
	}
	return false
}
