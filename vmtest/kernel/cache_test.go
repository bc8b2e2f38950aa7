package kernel

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeEntry writes a cache entry the way Fetcher.Get does: files first, the
// manifest last, then an atomic rename into place.
func makeEntry(t *testing.T, c *Cache, key, abi string) *Kernel {
	t.Helper()
	tmp, err := os.MkdirTemp(t.TempDir(), "entry")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.kernelsDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"vmlinuz": "bz", "vmlinux": "elf kernel", "root/config": "CONFIG_X=y\n"} {
		p := filepath.Join(tmp, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k := Kernel{Name: abi, ABI: abi, ID: key, BzImage: filepath.Join(tmp, "vmlinuz"), Vmlinux: filepath.Join(tmp, "vmlinux"), Config: filepath.Join(tmp, "root/config")}
	m := &manifest{Kernel: relative(k, tmp)}
	if err := writeManifest(tmp, m); err != nil {
		t.Fatal(err)
	}
	got, err := c.commit(tmp, m)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCacheRoundTrip(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	want := makeEntry(t, c, "k1", "6.1.0-57-amd64")
	got, err := c.ByABI("6.1.0-57-amd64")
	if err != nil {
		t.Fatal(err)
	}
	if got.Vmlinux != want.Vmlinux || got.Vmlinux != filepath.Join(c.Layout().Kernel("k1"), "vmlinux") {
		t.Errorf("Vmlinux = %q, want %q inside the entry", got.Vmlinux, want.Vmlinux)
	}
	good, bad := c.List()
	if len(good) != 1 || len(bad) != 0 {
		t.Errorf("List = %d good, %v bad; want 1, none", len(good), bad)
	}
}

func TestCacheDetectsDamagedEntries(t *testing.T) {
	cases := map[string]func(dir string) error{
		"truncated file": func(dir string) error { return os.Truncate(filepath.Join(dir, "vmlinux"), 3) },
		"missing file":   func(dir string) error { return os.Remove(filepath.Join(dir, "root", "config")) },
		"no manifest":    func(dir string) error { return os.Remove(filepath.Join(dir, "manifest.json")) },
		"garbled manifest": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"v":1,"files":`), 0o644)
		},
		"old layout": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"v":0,"files":{"vmlinux":10}}`), 0o644)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			c := &Cache{Dir: t.TempDir()}
			k := makeEntry(t, c, "k1", "6.1.0-57-amd64")
			if err := damage(k.Dir); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get("k1"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %v, want ErrCorrupt", err)
			}
			_, bad := c.List()
			if _, ok := bad["k1"]; !ok {
				t.Errorf("List does not report the damaged entry")
			}
			if err := c.Remove("k1"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get("k1"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after Remove, Get = %v, want not exist", err)
			}
		})
	}
}

func TestHasNoteFindsPVHEntry(t *testing.T) {
	note := func(owner string, typ uint32, desc []byte) []byte {
		name := append([]byte(owner), 0)
		for len(name)%4 != 0 {
			name = append(name, 0)
		}
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(owner)+1))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
		b = binary.LittleEndian.AppendUint32(b, typ)
		return append(append(b, name...), desc...)
	}
	gnu := note("GNU", 3, []byte{1, 2, 3, 4})
	pvh := note("Xen", xenNotePVH, []byte{0, 0, 0, 1})
	other := note("Xen", 1, []byte{0, 0, 0, 1})
	if !hasNote(append(gnu, pvh...), binary.LittleEndian, "Xen", xenNotePVH) {
		t.Error("PVH note after a GNU note not found")
	}
	if hasNote(append(gnu, other...), binary.LittleEndian, "Xen", xenNotePVH) {
		t.Error("found a PVH note that is not there")
	}
	if hasNote(pvh[:len(pvh)-2], binary.LittleEndian, "Xen", xenNotePVH) {
		t.Error("accepted a truncated note")
	}
}

func TestExtractVmlinuxRejectsWhatIsNotABzImage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ExtractVmlinux(p, p+".out"); err == nil {
		t.Error("ExtractVmlinux accepted zeros")
	}
}

// staleBefore3 is a provider whose entries older than layout 3 are stale,
// as Debian's are.
type staleBefore3 struct{ countingProvider }

func (*staleBefore3) Name() string      { return "stale" }
func (*staleBefore3) OldestLayout() int { return 3 }

// A layout 2 entry of a provider that moved to layout 3 (Debian's kept
// every module and the bzImage) is made again; one of another provider
// (a kernel built from source: rebuilding takes half an hour) is still
// used, as is every entry before the provider is used with the cache.
func TestCacheLayoutVersionsByProvider(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	for key, provider := range map[string]string{"stale": "stale", "src": "source"} {
		makeEntry(t, c, key, key+"-abi")
		dir := c.entryDir(key)
		b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m.V, m.Kernel.Provider = 2, provider
		b, _ = json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		// Layout 2's kmodvm recorded no digests.
		if err := os.Remove(filepath.Join(dir, digestsFile)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Get("stale"); err != nil {
		t.Errorf("layout 2 entry of a provider not in use: %v, want it read", err)
	}
	(&Fetcher{Cache: c}).Use(&staleBefore3{})
	if _, err := c.Get("stale"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "another kmodvm") {
		t.Errorf("layout 2 entry of a provider at layout 3: %v, want ErrCorrupt naming another kmodvm", err)
	}
	if _, err := c.Get("src"); err != nil {
		t.Errorf("source entry of layout 2: %v, want it used", err)
	}
}
