package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"kernelz"},
		{"kernels", "list", "--offline", "6.x"},
		{"run", "--shard", "3/2"},
		{"run", "--param", "nodot", "--module", "../../kmod"},
		{"run", "--module", "/nonexistent"},
		{"build", "--module", "/nonexistent"},
	} {
		if _, code := runCLI(t, args...); code != exitUsage {
			t.Errorf("kmodvm %q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestKernelsListJSONFeedsACIMatrix(t *testing.T) {
	kerneltest.Get(t, "6.1")
	kerneltest.Get(t, "7.3")
	out, code := runCLI(t, "kernels", "list", "--offline", "--json", "6.1", "7.3")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var rows []kernelRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rows) != 2 || rows[0].Selector != "6.1" || rows[1].Selector != "7.3" {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if r.ABI == "" || r.Version == "" || !r.Cached || r.Compiler == "" {
			t.Errorf("row %+v lacks what a CI job needs", r)
		}
	}
}

// Merging the reports of --shard 1/2 and --shard 2/2 gives the matrix of
// the unsharded run.
func TestShardsMergeIntoTheUnshardedMatrix(t *testing.T) {
	kerneltest.Get(t, "6.1")
	kerneltest.Get(t, "7.3")
	dir := t.TempDir()
	common := []string{"run", "-q", "--offline", "--kernels", "6.1,7.3", "--module", "../../kmod", "--tests", "../../guest/mmapdrv",
		"--test-arg=-test.run=^TestSize|^TestUnknownIoctl"}
	var parts []string
	for i, shard := range []string{"1/2", "2/2", ""} {
		args := append(append([]string{}, common...), "--out", filepath.Join(dir, "out", string(rune('a'+i))), "--json", filepath.Join(dir, "part", string(rune('a'+i))+".json"))
		if shard != "" {
			args = append(args, "--shard", shard)
		}
		if _, code := runCLI(t, args...); code != exitOK {
			t.Fatalf("kmodvm %q: exit %d", args, code)
		}
		parts = append(parts, filepath.Join(dir, "part", string(rune('a'+i))+".json"))
	}
	merged, code := runCLI(t, "report", "merge", parts[0], parts[1])
	if code != exitOK {
		t.Fatalf("merge: exit %d", code)
	}
	whole, code := runCLI(t, "report", "show", parts[2])
	if code != exitOK {
		t.Fatalf("show: exit %d", code)
	}
	if merged != whole {
		t.Errorf("merged shards:\n%s\nunsharded run:\n%s", merged, whole)
	}
}

// kernels prune removes every VM snapshot (and the next run makes the one
// it needs again), and the packages an earlier kmodvm's fetches kept.
func TestKernelsPruneRemovesSnapshots(t *testing.T) {
	cache := t.TempDir()
	state := filepath.Join(vmtest.SnapshotDir(cache), "0123456789abcdef01234567.state")
	deb := filepath.Join(cachedir.Layout{Root: cache}.Debs(), "0123.deb")
	for p, size := range map[string]int{state: 3 << 20, deb: 2 << 20} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runCLI(t, "--cache", cache, "kernels", "prune")
	if code != exitOK || !strings.Contains(out, "removed VM snapshots (3 MB)") || !strings.Contains(out, "removed downloaded packages (2 MB)") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	for _, p := range []string{state, deb} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived: %v", p, err)
		}
	}
}

// An entry made by another kmodvm (a Debian entry of layout 2) is listed
// as unusable, not as missing, and says why.
func TestKernelsListSaysWhenACachedCopyIsUnusable(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	l := cachedir.Layout{Root: t.TempDir()}
	dir := l.Root
	for _, c := range [][]string{
		{"mkdir", "-p", l.Kernels(), l.Apt()},
		{"cp", "-a", k.Dir, l.Kernel(k.ID)},
		{"cp", filepath.Join(cachedir.Layout{Root: kernel.DefaultCacheDir()}.Apt(), "index.json"), l.Apt()},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	mpath := filepath.Join(l.Kernel(k.ID), "manifest.json")
	b, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["v"] = 2
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mpath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "kernels", "list", "--offline", "--json", "--cache", dir, "6.1")
	var rows []kernelRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != exitOK || len(rows) != 1 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if r := rows[0]; r.Cached || !strings.Contains(r.Unusable, "another kmodvm") {
		t.Errorf("row %+v: want not cached, unusable because another kmodvm made it", r)
	}
}
