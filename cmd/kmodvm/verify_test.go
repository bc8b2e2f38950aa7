package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// A header of a cached kernel changed in place, at its size and with its
// modification time put back (touch -r), is found by `kernels verify`
// and by a run, which offline exits 3 naming the file.
func TestAHeaderChangedInPlaceIsNamedByVerifyAndByAnOfflineRun(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	l := cachedir.Layout{Root: t.TempDir()}
	for _, c := range [][]string{
		{"mkdir", "-p", l.Kernels(), l.Apt()},
		{"cp", "-a", k.Dir, l.Kernel(k.ID)},
		{"cp", filepath.Join(cachedir.Layout{Root: kernel.DefaultCacheDir()}.Apt(), "index.json"), l.Apt()},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	if out, code := runCLI(t, "--cache", l.Root, "kernels", "verify"); code != exitOK || !strings.Contains(out, "ok       kernel "+k.Name) {
		t.Fatalf("intact copy: exit %d\n%s", code, out)
	}
	headers, err := filepath.Glob(filepath.Join(l.Kernel(k.ID), "root/usr/src/linux-headers-*-common/include/linux/module.h"))
	if err != nil || len(headers) != 1 {
		t.Fatalf("no module.h in the entry: %v %v", headers, err)
	}
	h := headers[0]
	b, err := os.ReadFile(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h, []byte(strings.Replace(string(b), "struct module", "struct MODULE", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("touch", "-r", filepath.Join(filepath.Dir(h), "kernel.h"), h).CombinedOutput(); err != nil {
		t.Fatalf("touch -r: %v: %s", err, out)
	}
	rel, _ := filepath.Rel(l.Kernel(k.ID), h)
	out, code := runCLI(t, "--cache", l.Root, "kernels", "verify")
	if code != exitInfra || !strings.Contains(out, "DAMAGED  kernel") || !strings.Contains(out, rel+": content differs") {
		t.Errorf("verify: exit %d, want %d naming %s\n%s", code, exitInfra, rel, out)
	}
	r := runKmodvm(t, nil, t.TempDir(), "run", "--offline", "--cache", l.Root, "-k", "6.1", "--no-snapshot")
	if r.code != exitInfra || !strings.Contains(r.output(), rel+": content differs") || !strings.Contains(r.output(), "offline") {
		t.Errorf("offline run: exit %d, want %d naming %s", r.code, exitInfra, rel)
	}
}
