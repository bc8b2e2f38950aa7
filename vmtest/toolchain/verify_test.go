package toolchain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/internal/digest"
)

// userlandAt makes a small finished userland: a compiler, a header, a
// link, its ready mark and a file in its /tmp.
func userlandAt(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "trixie-gcc-14-abcdef")
	for name, data := range map[string]string{
		"usr/bin/x86_64-linux-gnu-gcc-14": "\x7fELF compiler",
		"usr/include/stdio.h":             "int printf(const char *, ...);\n",
		"tmp/cc123.s":                     "a build's scratch\n",
		readyFile:                         "gcc-14\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("x86_64-linux-gnu-gcc-14", filepath.Join(root, "usr/bin/gcc-14")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestUserlandIsCheckedByContentOncePerSet(t *testing.T) {
	root := userlandAt(t)
	if err := recordUserland(root); err != nil {
		t.Fatal(err)
	}
	// A build writes its /tmp: not a damage.
	if err := os.WriteFile(filepath.Join(root, "tmp/cc123.s"), []byte("another build\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := &Set{}
	if ok, why := set.usable(root); !ok || why != nil {
		t.Fatalf("intact userland: %v %v", ok, why)
	}
	cc := filepath.Join(root, "usr/bin/x86_64-linux-gnu-gcc-14")
	info, err := os.Stat(cc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cc, []byte("\x7fELF Compiler"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(cc, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := set.usable(root); !ok {
		t.Error("a Set checks a userland once, not before every build")
	}
	ok, why := (&Set{}).usable(root)
	if ok || !errors.Is(why, digest.ErrDamaged) || !strings.Contains(why.Error(), "usr/bin/x86_64-linux-gnu-gcc-14: content differs") {
		t.Fatalf("compiler changed in place: usable %v, %v; want the file named", ok, why)
	}
	if res, err := VerifyUserlands(filepath.Dir(root)); err != nil || !errors.Is(res[filepath.Base(root)], digest.ErrDamaged) {
		t.Errorf("VerifyUserlands: %v %v, want the damage", res, err)
	}
	_, err = (&Set{Dir: filepath.Dir(root), Offline: true}).userland(t.Context(), "trixie", "gcc-14")
	if err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("offline: %v", err)
	}
}

// A userland made before digests is taken as it is the first time and
// has its digests recorded from its files, which later checks hold it to.
func TestUserlandWithoutDigestsHasThemRecorded(t *testing.T) {
	root := userlandAt(t)
	if ok, why := (&Set{}).usable(root); !ok || why != nil {
		t.Fatalf("userland without digests: %v %v", ok, why)
	}
	if _, err := os.Stat(digestsPath(root)); err != nil {
		t.Fatalf("no digests recorded: %v", err)
	}
	if err := os.Remove(filepath.Join(root, "usr/include/stdio.h")); err != nil {
		t.Fatal(err)
	}
	if ok, why := (&Set{}).usable(root); ok || !strings.Contains(why.Error(), "stdio.h: missing") {
		t.Errorf("a header removed: %v %v", ok, why)
	}
}

func TestDebootstrapAlwaysVerifiesWithTheArchiveKeyring(t *testing.T) {
	if _, err := debootstrapArgs(filepath.Join(t.TempDir(), "none.gpg"), "trixie", "/t", "http://m/debian", []string{"gcc-14"}); err == nil || !strings.Contains(err.Error(), "debian-archive-keyring") {
		t.Errorf("without a keyring: %v, want the package named", err)
	}
	keyring := filepath.Join(t.TempDir(), "k.gpg")
	if err := os.WriteFile(keyring, []byte("keys"), 0o644); err != nil {
		t.Fatal(err)
	}
	args, err := debootstrapArgs(keyring, "trixie", "/t", "http://m/debian", []string{"gcc-14", "make"})
	if err != nil || args[0] != "--keyring="+keyring {
		t.Errorf("args %q, %v; want --keyring first", args, err)
	}
}
