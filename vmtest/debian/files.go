package debian

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/kmodvm/kmodvm/internal/proc"
)

// VerifyFile checks that the file at path has the given size and SHA-256.
func VerifyFile(path string, size int64, sum string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: %s has %d bytes, want %d (truncated download?)", ErrChecksum, path, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: %s has sha256 %s, want %s", ErrChecksum, path, got, sum)
	}
	return nil
}

// Extract unpacks a .deb's data into dir with dpkg-deb.
func Extract(ctx context.Context, deb, dir string) error {
	out, err := proc.Command(ctx, "dpkg-deb", "-x", deb, dir).CombinedOutput()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("dpkg-deb not found: install dpkg (run `make deps`)")
		}
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", deb, err, lastLines(string(out), 4))
	}
	return nil
}
