package initramfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// The per-run file layers: the binary executable, a data file not, a
// directory's regular files under the directory, which is there even when
// empty.
func TestFileLayers(t *testing.T) {
	src := t.TempDir()
	for name, data := range map[string]string{"a": "first", "b": "second"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, c := range []struct {
		name  string
		write func(path string) error
		want  map[string]string // name -> content, "/" for a directory
		perm  uint64            // of the files
	}{
		{"binary", func(p string) error { return WriteBinary(p, "/fuzz/harness", filepath.Join(src, "a")) },
			map[string]string{"fuzz": "/", "fuzz/harness": "first"}, 0o755},
		{"data", func(p string) error { return WriteData(p, "/fuzz/replay/x", filepath.Join(src, "b")) },
			map[string]string{"fuzz": "/", "fuzz/replay": "/", "fuzz/replay/x": "second"}, 0o644},
		{"directory", func(p string) error { return WriteDir(p, "/fuzz/corpus", src) },
			map[string]string{"fuzz": "/", "fuzz/corpus": "/", "fuzz/corpus/a": "first", "fuzz/corpus/b": "second"}, 0o644},
		{"empty directory", func(p string) error { return WriteDir(p, "/fuzz/corpus", filepath.Join(src, "sub")) },
			map[string]string{"fuzz": "/", "fuzz/corpus": "/"}, 0o644},
	} {
		p := filepath.Join(out, c.name+".cpio")
		if err := c.write(p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		recs := readLayer(t, p)
		if len(recs) != len(c.want) {
			t.Errorf("%s: %d entries, want %d: %v", c.name, len(recs), len(c.want), recs)
		}
		for name, want := range c.want {
			r, ok := recs[name]
			switch {
			case !ok:
				t.Errorf("%s: no %s", c.name, name)
			case want == "/" && r.Mode&cpio.S_IFMT != cpio.S_IFDIR:
				t.Errorf("%s: %s is no directory (%o)", c.name, name, r.Mode)
			case want != "/" && (string(r.Data) != want || r.Mode != cpio.S_IFREG|c.perm):
				t.Errorf("%s: %s is %q mode %o, want %q mode %o", c.name, name, r.Data, r.Mode, want, cpio.S_IFREG|c.perm)
			}
		}
	}
}
