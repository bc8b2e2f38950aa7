package kbuild

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// A cached build whose .ko was changed in place (its size and modification
// time kept) is not used, and is removed so that the build made instead
// takes its place; an intact one is restored.
func TestBuildCacheRefusesAndRemovesADamagedBuild(t *testing.T) {
	work := t.TempDir()
	ko := filepath.Join(work, "m.ko")
	if err := os.WriteFile(ko, []byte("\x7fELF module"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Result{Kernel: "6.1.0-57-amd64", Modules: []Module{{Name: "m", Path: ko}}, WorkDir: work, Log: []byte("make\n")}
	dir := t.TempDir()
	if err := toCache(dir, "key", r); err != nil {
		t.Fatal(err)
	}
	got, err := fromCache(dir, "key", filepath.Join(t.TempDir(), "out"))
	if err != nil || len(got.Modules) != 1 {
		t.Fatalf("intact entry: %v %+v", err, got)
	}
	cached := filepath.Join(dir, "key", "m.ko")
	info, err := os.Stat(cached)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("\x7fELF MODULE"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(cached, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if res, err := VerifyCache(dir); err != nil || !errors.Is(res["key"], digest.ErrDamaged) {
		t.Errorf("VerifyCache: %v %v, want the damage", res, err)
	}
	if _, err := fromCache(dir, "key", filepath.Join(t.TempDir(), "out")); !errors.Is(err, digest.ErrDamaged) {
		t.Fatalf("damaged entry: %v, want ErrDamaged", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged entry is still there: %v", err)
	}
	if err := toCache(dir, "key", r); err != nil {
		t.Fatal(err)
	}
	if _, err := fromCache(dir, "key", filepath.Join(t.TempDir(), "out")); err != nil {
		t.Errorf("the build stored again: %v", err)
	}
}
