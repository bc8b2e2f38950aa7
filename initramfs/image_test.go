package initramfs

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

func TestTestsLayerHoldsBinaryAndTestdata(t *testing.T) {
	b := &Builder{CacheDir: sharedCache}
	layers, bins, err := b.Tests(context.Background(), []TestPackage{{Dir: "testdata/guestpkg"}})
	if err != nil {
		t.Fatal(err)
	}
	want := event.TestBinary{Name: "guestpkg", Path: "/kmodvm/tests/guestpkg/guestpkg.test"}
	if len(bins) != 1 || bins[0].Name != want.Name || bins[0].Path != want.Path || len(layers) != 1 {
		t.Fatalf("Tests = %v, %+v; want one layer and %+v", layers, bins, want)
	}
	recs := readLayer(t, layers[0])
	bin, ok := recs["kmodvm/tests/guestpkg/guestpkg.test"]
	if !ok {
		t.Fatalf("no test binary in layer: %v", names(recs))
	}
	if bin.Mode&0o111 == 0 {
		t.Errorf("test binary mode %o is not executable", bin.Mode)
	}
	f, err := elf.NewFile(bytes.NewReader(bin.Data))
	if err != nil {
		t.Fatalf("test binary is not ELF: %v", err)
	}
	if f.Machine != elf.EM_X86_64 || f.Section(".interp") != nil {
		t.Errorf("test binary is %v, interp %v; want static x86-64", f.Machine, f.Section(".interp") != nil)
	}
	if got := string(recs["kmodvm/tests/guestpkg/testdata/hello.txt"].Data); got != "hello from testdata\n" {
		t.Errorf("testdata/hello.txt = %q", got)
	}

	again, _, err := b.Tests(context.Background(), []TestPackage{{Dir: "testdata/guestpkg"}})
	if err != nil || again[0] != layers[0] {
		t.Errorf("unchanged package gave %v (%v), want cached %s", again, err, layers[0])
	}
	_, _, err = b.Tests(context.Background(), []TestPackage{{Dir: "testdata/guestpkg"}, {Dir: "testdata/guestpkg"}})
	if err == nil || !strings.Contains(err.Error(), "two test packages") {
		t.Errorf("duplicate names: err = %v", err)
	}
}

func TestTestsLayerKeyFollowsModuleFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":           "module example.com/k\n\ngo 1.26\n",
		"k_test.go":        "package k\n\nimport \"testing\"\n\nfunc TestK(t *testing.T) {}\n",
		"other/o.go":       "package other\n",
		".git/HEAD":        "ref: main\n",
		"nested/go.mod":    "module example.com/nested\n",
		"nested/n_test.go": "package nested\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := func() string {
		k := newKey()
		if err := hashTree(k, dir, filepath.Join(dir, "cache")); err != nil {
			t.Fatal(err)
		}
		return k.sum()
	}
	base := key()
	tests := []struct {
		file    string
		changes bool
	}{
		{"other/o.go", true},
		{"testdata/new.txt", true},
		{".git/HEAD", false},
		{"nested/n_test.go", false},
		{"_ignored/x.go", false},
		{"cache/initramfs/layer.cpio", false},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.file)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("changed "+tt.file), 0o644); err != nil {
			t.Fatal(err)
		}
		got := key()
		if (got != base) != tt.changes {
			t.Errorf("changing %s: key changed = %v, want %v", tt.file, got != base, tt.changes)
		}
		base = got
	}
}

func TestConcatBootImage(t *testing.T) {
	base := baseLayer(t)
	b := &Builder{CacheDir: sharedCache}
	tests, bins, err := b.Tests(context.Background(), []TestPackage{{Dir: "testdata/guestpkg"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run.cpio")
	bins[0].Timeout = event.Duration(time.Minute)
	cfg := event.RunConfig{Tests: bins, Unload: true}
	if err := WriteRun(run, cfg); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "image.cpio")
	if err := Concat(img, append(append([]string{base}, tests...), run)...); err != nil {
		t.Fatal(err)
	}
	recs := readLayer(t, img)
	for _, want := range []string{"init", "bin/kmodvm-agent", "dev/console", "kmodvm/tests/guestpkg/guestpkg.test", "kmodvm/run.json"} {
		if _, ok := recs[want]; !ok {
			t.Errorf("image lacks %s", want)
		}
	}
	if got := string(recs["init"].Data); got != "bin/kmodvm-agent" {
		t.Errorf("/init -> %q, want bin/kmodvm-agent", got)
	}
	var got event.RunConfig
	if err := json.Unmarshal(recs["kmodvm/run.json"].Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.V != event.Version || len(got.Tests) != 1 || got.Tests[0].Timeout != bins[0].Timeout || !got.Unload {
		t.Errorf("run.json = %+v", got)
	}
}

// BenchmarkWarmBuild measures what a run pays when nothing changed: every
// cached layer looked up, the run layer written and the image concatenated.
func BenchmarkWarmBuild(b *testing.B) {
	base := baseLayer(b)
	bl := &Builder{CacheDir: sharedCache}
	dir := b.TempDir()
	for b.Loop() {
		ctx := context.Background()
		if _, err := bl.Base(ctx); err != nil {
			b.Fatal(err)
		}
		tests, bins, err := bl.Tests(ctx, []TestPackage{{Dir: "testdata/guestpkg"}})
		if err != nil {
			b.Fatal(err)
		}
		run := filepath.Join(dir, "run.cpio")
		if err := WriteRun(run, event.RunConfig{Tests: bins}); err != nil {
			b.Fatal(err)
		}
		if err := Concat(filepath.Join(dir, "image.cpio"), append(append([]string{base}, tests...), run)...); err != nil {
			b.Fatal(err)
		}
	}
}
