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
	ok, damage := t.usable(root)
	if ok {
		return root, nil
	}
	if t.Offline {
		return "", offlineError(root, damage)
	}
	if damage != nil && t.Log != nil {
		fmt.Fprintf(t.Log, "toolchain userland unusable, making it again: %v\n", damage)
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
	if ok, _ := t.usable(root); ok {
		return root, nil // another process made it while we waited
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
	args, err := debootstrapArgs(debian.Keyring, suite, tmp, mirror, pkgs)
	if err != nil {
		return "", err
	}
	if err := scrub(tmp); err != nil {
		return "", err
	}
	cmd := proc.Command(ctx, "debootstrap", args...)
	out := &tail{max: 8 << 10}
	w := io.Writer(out)
	if t.Log != nil {
		w = io.MultiWriter(out, t.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		scrub(tmp)
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("debootstrap not found: install it (run `make deps`)")
		}
		return "", fmt.Errorf("debootstrap %s: %w: %s", suite, err, out.String())
	}
	os.RemoveAll(filepath.Join(tmp, "var", "cache", "apt", "archives"))
	if err := os.WriteFile(filepath.Join(tmp, readyFile), []byte(cc+"\n"), 0o644); err != nil {
		return "", err
	}
	removeUserland(root)
	if err := os.Rename(tmp, root); err != nil {
		return "", err
	}
	// A crash before the digests are written leaves a userland without
	// them, whose digests the next use records from its files.
	return root, recordUserland(root)
}

// debootstrapArgs are debootstrap's arguments to make suite's userland
// with pkgs at dir, verified with keyring: debootstrap checks the Release
// file it downloads only with a keyring, and without one takes whatever
// the mirror sends.
func debootstrapArgs(keyring, suite, dir, mirror string, pkgs []string) ([]string, error) {
	if _, err := os.Stat(keyring); err != nil {
		return nil, fmt.Errorf("debootstrap needs Debian's archive keyring to verify the packages of the %s userland, and %s is missing: install the package debian-archive-keyring (make deps)", suite, keyring)
	}
	return []string{"--keyring=" + keyring, "--variant=minbase", "--include=" + strings.Join(pkgs, ","), suite, dir, mirror}, nil
}

// readyFile marks a userland that debootstrap finished.
const readyFile = ".kmodvm-ready"

func ready(root string) bool {
	_, err := os.Stat(filepath.Join(root, readyFile))
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
