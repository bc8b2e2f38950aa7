package debianprov

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestCompressModulesKeepsEveryModuleReadable(t *testing.T) {
	if !depmodReadsZstd(t.Context()) {
		t.Skip("this host's depmod cannot read zstd: modules stay uncompressed")
	}
	dir := t.TempDir()
	mods := map[string]string{"kernel/lib/a.ko": "first module", "kernel/fs/b/b.ko": "second", "kernel/c.ko.xz": "shipped compressed"}
	for p, c := range mods {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
	}
	if err := compressModules(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	d, _ := zstd.NewReader(nil)
	defer d.Close()
	for _, p := range []string{"kernel/lib/a.ko", "kernel/fs/b/b.ko"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, p+".zst"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := d.DecodeAll(b, nil); err != nil || string(got) != mods[p] {
			t.Errorf("%s.zst holds %q, %v", p, got, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "kernel/c.ko.xz")); string(b) != mods["kernel/c.ko.xz"] {
		t.Errorf("an already compressed module was changed")
	}
}

// Packages that ship their own modules.dep name the modules as shipped:
// then nothing is renamed under it.
func TestCompressModulesLeavesATreeWithModulesDepAlone(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("a.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.ko"), []byte("x"), 0o644)
	if err := compressModules(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.ko")); err != nil {
		t.Errorf("a.ko: %v", err)
	}
}
