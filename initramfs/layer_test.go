package initramfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// A cached layer is used only if it is whole: one truncated (a crash, a
// full disk) or changed since it was written is built again.
func TestDamagedLayerIsRebuilt(t *testing.T) {
	b := &Builder{CacheDir: t.TempDir()}
	content := bytes.Repeat([]byte("layer "), 10000)
	builds := 0
	build := func(_ context.Context, f *os.File) error {
		builds++
		_, err := f.Write(content)
		return err
	}
	for _, c := range []struct {
		name   string
		damage func(path string) error
		builds int // after this step
	}{
		{"first use builds", func(string) error { return nil }, 1},
		{"intact is cached", func(string) error { return nil }, 1},
		{"truncated", func(p string) error { return os.Truncate(p, int64(len(content)/2)) }, 2},
		{"a byte changed", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("X"), 100)
			return err
		}, 3},
		{"a byte changed, its modification time kept", func(p string) error {
			info, err := os.Stat(p)
			if err != nil {
				return err
			}
			changed := bytes.Clone(content)
			changed[200] = 'X'
			if err := os.WriteFile(p, changed, 0o644); err != nil {
				return err
			}
			return os.Chtimes(p, info.ModTime(), info.ModTime())
		}, 4},
		{"intact again", func(string) error { return nil }, 4},
		{"a sum of the format before fingerprints", func(p string) error {
			sum := sha256.Sum256(content)
			return os.WriteFile(p+sumSuffix, fmt.Appendf(nil, "%d %x\n", len(content), sum), 0o644)
		}, 4},
		{"that sum, the layer changed", func(p string) error {
			sum := sha256.Sum256(content)
			if err := os.WriteFile(p+sumSuffix, fmt.Appendf(nil, "%d %x\n", len(content), sum), 0o644); err != nil {
				return err
			}
			return os.WriteFile(p, bytes.ToUpper(content), 0o644)
		}, 5},
	} {
		p, err := b.cached(t.Context(), "test-x.cpio", build)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := c.damage(p); err != nil {
			t.Fatal(err)
		}
		p, err = b.cached(t.Context(), "test-x.cpio", build)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, content) || builds != c.builds {
			t.Errorf("%s: %d builds, layer of %d bytes intact=%v; want %d builds and the whole layer", c.name, builds, len(got), bytes.Equal(got, content), c.builds)
		}
	}
}

// Verify hashes a layer whose fingerprint its sum vouches for.
func TestVerifyHashesEveryLayer(t *testing.T) {
	b := &Builder{CacheDir: t.TempDir()}
	p, err := b.cached(t.Context(), "test-v.cpio", func(_ context.Context, f *os.File) error {
		_, err := f.WriteString("layer")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := b.Verify(); err != nil || len(res) != 1 || res["test-v.cpio"] != nil {
		t.Fatalf("intact: %v %v", res, err)
	}
	if err := os.WriteFile(p, []byte("LAYER"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := digest.Read(p + sumSuffix)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	s.Files[0].FP = digest.FingerprintOf(info) // the sum vouches for the change
	if err := s.Write(p + sumSuffix); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Verify(); err != nil || !errors.Is(res["test-v.cpio"], digest.ErrDamaged) {
		t.Errorf("changed: %v %v, want the damage", res, err)
	}
}
