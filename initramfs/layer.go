package initramfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// sumSuffix names a cached layer's sidecar: its SHA-256 and fingerprint
// (internal/digest), written after the layer, so that a layer is used
// only as it was built. A crash or a full disk can leave a short layer
// under its final name (renamed before its data reached the disk), and a
// layer the guest cannot unpack shows up as a kernel that never boots, far
// from its cause. The layer is hashed again only when its fingerprint
// moved (a Touch, an hour apart, moves it too).
const sumSuffix = ".sum"

// writeSum writes the sidecar of the layer at path.
func writeSum(path string) error {
	s, err := digest.Make(filepath.Dir(path), []string{filepath.Base(path)})
	if err != nil {
		return err
	}
	return s.Write(path + sumSuffix)
}

// verifyLayer checks the layer at path against its sidecar.
func verifyLayer(path string) error {
	s, err := digest.Read(path + sumSuffix)
	if errors.Is(err, digest.ErrDamaged) {
		return adoptLegacySum(path)
	}
	if err != nil {
		return err
	}
	if len(s.Files) != 1 || s.Files[0].Path != filepath.Base(path) {
		return fmt.Errorf("layer %s: its sum names another file", path)
	}
	refreshed, err := s.Check(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("layer %s: %w", path, err)
	}
	if refreshed {
		_ = s.Write(path + sumSuffix) // best effort: hashed again next time
	}
	return nil
}

// adoptLegacySum checks the layer at path against a sidecar of the format
// before fingerprints ("<size> <sha256>"), hashing it as kmodvm did then,
// and writes the sidecar anew.
func adoptLegacySum(path string) error {
	want, err := os.ReadFile(path + sumSuffix)
	if err != nil {
		return err
	}
	var size int64
	var sum string
	if _, err := fmt.Sscanf(string(want), "%d %64s\n", &size, &sum); err != nil {
		return fmt.Errorf("layer %s: its sum is garbled", path)
	}
	n, got, err := digest.FileSHA256(path)
	if err != nil {
		return err
	}
	if n != size || got != sum {
		return fmt.Errorf("layer %s: content changed since it was built", path)
	}
	return writeSum(path)
}

// Verify hashes every cached layer again, whatever its fingerprint says,
// and returns each layer's file name with what is wrong with it, or nil.
func (b *Builder) Verify() (map[string]error, error) {
	cache, err := b.cache()
	if err != nil {
		return nil, err
	}
	layers, err := filepath.Glob(filepath.Join(cache.Layers(), "*.cpio"))
	if err != nil {
		return nil, err
	}
	out := map[string]error{}
	for _, p := range layers {
		s, err := digest.Read(p + sumSuffix)
		if err == nil {
			_, err = s.Verify(filepath.Dir(p))
		} else if errors.Is(err, digest.ErrDamaged) {
			err = adoptLegacySum(p)
		}
		out[filepath.Base(p)] = err
	}
	return out, nil
}
