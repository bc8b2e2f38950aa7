package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

func archive(t *testing.T, recs ...cpio.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := cpio.Newc.Writer(&b)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Image layers are newc archives, concatenated with padding; a later one's
// file replaces an earlier one's, as the kernel's unpacking does.
func TestExtractCpioUnpacksConcatenatedLayers(t *testing.T) {
	one := archive(t,
		cpio.StaticFile("tests/a.test", "binary one", 0o755),
		cpio.StaticFile("etc/kmodvm/run.json", "old", 0o644),
		cpio.Symlink("bin/a", "../tests/a.test"))
	two := archive(t, cpio.StaticFile("etc/kmodvm/run.json", `{"v":1}`, 0o644))
	all := append(append(one, make([]byte, 4-len(one)%4%4+4)...), two...)
	root := t.TempDir()
	if err := extractCpio(all, root); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"tests/a.test": "binary one", "etc/kmodvm/run.json": `{"v":1}`, "bin/a": "binary one"} {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tests/a.test")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("tests/a.test mode: %v, %v", fi.Mode(), err)
	}
	if err := extractCpio(all[:len(one)/2], t.TempDir()); err == nil {
		t.Error("an archive cut short unpacked")
	}
}
