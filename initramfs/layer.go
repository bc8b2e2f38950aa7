package initramfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
)

// sumSuffix names a cached layer's sidecar: its size and SHA-256, written
// after the layer, so that a layer is used only as it was built. A crash or
// a full disk can leave a short layer under its final name (renamed before
// its data reached the disk), and a layer the guest cannot unpack shows up
// as a kernel that never boots, far from its cause.
const sumSuffix = ".sum"

// sumOf returns the sidecar line for the file at path.
func sumOf(path string) (string, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%d %s\n", info.Size(), hex.EncodeToString(h.Sum(nil))), info, nil
}

// writeSum writes the sidecar of the layer at path.
func writeSum(path string) error {
	sum, _, err := sumOf(path)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path+sumSuffix, []byte(sum))
}

// verifyLayer checks the layer at path against its sidecar.
func verifyLayer(path string) error {
	want, err := os.ReadFile(path + sumSuffix)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	// The size first: a truncated layer needs no hashing.
	var size int64
	if _, err := fmt.Sscanf(string(want), "%d ", &size); err != nil || size != info.Size() {
		return fmt.Errorf("layer %s: %d bytes, its sum says %q", path, info.Size(), want)
	}
	got, _, err := sumOf(path)
	if err != nil {
		return err
	}
	if got != string(want) {
		return fmt.Errorf("layer %s: content changed since it was built", path)
	}
	return nil
}
