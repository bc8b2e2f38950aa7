package toolchain

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/kmodvm/kmodvm/vmtest/debian"
)

// userland returns a Debian suite's build userland with extra packages,
// making it with debootstrap on first use.
func (t *Set) userland(ctx context.Context, suite, cc string, extra ...string) (string, error) {
	pkgs := append(append([]string{cc}, suitePackages[suite]...), extra...)
	// The package list is part of the name, so that a userland made with an
	// older list is replaced rather than reused.
	sum := sha256.Sum256([]byte(strings.Join(pkgs, ",")))
	root := filepath.Join(t.Dir, fmt.Sprintf("%s-%s-%x", suite, cc, sum[:3]))
	if ready(root) {
		return root, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: building for this kernel needs a Debian %s userland with %s, made with debootstrap and entered with chroot: run kmodvm as root once (sudo), or install %s on the host", ErrNeedRoot, suite, cc, cc)
	}
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return "", err
	}
	l := flock.New(root + ".lock")
	if _, err := l.TryLockContext(ctx, 200*time.Millisecond); err != nil {
		return "", err
	}
	defer l.Unlock()
	if ready(root) {
		return root, nil
	}
	mirror := t.Mirror
	if mirror == "" {
		m, err := debian.HostMirrors()
		if err != nil {
			return "", err
		}
		mirror = m.Main
	}
	tmp := root + ".tmp"
	os.RemoveAll(tmp)
	args := []string{"--variant=minbase", "--include=" + strings.Join(pkgs, ","), suite, tmp, mirror}
	if _, err := os.Stat(debian.Keyring); err == nil {
		args = append([]string{"--keyring=" + debian.Keyring}, args...)
	}
	cmd := proc.Command(ctx, "debootstrap", args...)
	out := &tail{max: 8 << 10}
	w := io.Writer(out)
	if t.Log != nil {
		w = io.MultiWriter(out, t.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("debootstrap not found: install it (run `make deps`)")
		}
		return "", fmt.Errorf("debootstrap %s: %w: %s", suite, err, out.String())
	}
	os.RemoveAll(filepath.Join(tmp, "var", "cache", "apt", "archives"))
	if err := os.WriteFile(filepath.Join(tmp, ".kmodvm-ready"), []byte(cc+"\n"), 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(root)
	return root, os.Rename(tmp, root)
}

func ready(root string) bool {
	_, err := os.Stat(filepath.Join(root, ".kmodvm-ready"))
	return err == nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }
