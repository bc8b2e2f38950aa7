package debian

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kmodvm/kmodvm/internal/digest"
	"github.com/kmodvm/kmodvm/internal/proc"
)

// VerifyFile checks that the file at path has the given size and SHA-256.
func VerifyFile(path string, size int64, sum string) error {
	n, got, err := digest.FileSHA256(path)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: %s has %d bytes, want %d (truncated download?)", ErrChecksum, path, n, size)
	}
	if got != sum {
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

// ExtractFiles copies the regular files of a .deb's data that want accepts
// (called with the member's path as the archive names it, "./usr/...")
// into dir, flat, each under the name want returns, and stops reading as
// soon as every name in want's set has been seen (done reports that), so
// a large package's tail is never decompressed. dpkg-deb decompresses;
// archive/tar reads the stream.
func ExtractFiles(ctx context.Context, deb, dir string, want func(member string) (name string, ok bool), done func(got map[string]bool) bool) (map[string]bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := proc.Command(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr lastBytes
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("dpkg-deb not found: install dpkg (run `make deps`)")
		}
		return nil, err
	}
	got, rerr := extractTar(out, dir, want, done)
	early := rerr != nil || done(got)
	if early {
		// Stopping early leaves dpkg-deb writing into a closed pipe: end it.
		cancel()
	} else {
		// The tar stream ended: let dpkg-deb finish (its padding, its
		// exit status) rather than kill it.
		io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if rerr != nil {
		return got, fmt.Errorf("unpack %s: %w", deb, rerr)
	}
	if !early && werr != nil {
		return got, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", deb, werr, stderr.String())
	}
	return got, nil
}

func extractTar(r io.Reader, dir string, want func(string) (string, bool), done func(map[string]bool) bool) (map[string]bool, error) {
	got := map[string]bool{}
	tr := tar.NewReader(r)
	for !done(got) {
		h, err := tr.Next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		name, ok := want(h.Name)
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		if name != filepath.Base(name) || name == "." || name == ".." {
			return got, fmt.Errorf("bad target name %q for %s", name, h.Name)
		}
		if err := writeMember(filepath.Join(dir, name), tr, h.Size); err != nil {
			return got, err
		}
		got[name] = true
	}
	return got, nil
}

func writeMember(path string, r io.Reader, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%s: wrote %d of %d bytes", path, n, size)
	}
	return err
}

// lastBytes keeps the end of what a command wrote, for its error.
type lastBytes struct{ b []byte }

func (l *lastBytes) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 2048 {
		l.b = l.b[len(l.b)-2048:]
	}
	return len(p), nil
}

func (l *lastBytes) String() string { return string(l.b) }
