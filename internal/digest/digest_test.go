package digest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// entry makes a small cache entry: two files in a folder and a link.
func entry(t *testing.T) (string, *Set) {
	t.Helper()
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "include", "linux"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "include", "linux", "fs.h"), []byte("struct file { int f_mode; };\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "vmlinux"), []byte(strings.Repeat("k", 100000)), 0o644))
	must(t, os.Symlink("include", filepath.Join(root, "inc")))
	paths, err := List(root, nil)
	must(t, err)
	s, err := Make(root, paths)
	must(t, err)
	if len(s.Files) != 3 {
		t.Fatalf("recorded %v, want the two files and the link", s.Files)
	}
	return root, s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// keepTimes changes p, then puts p's modification time back to what it was, as `touch -r`
// would: the change time still moves.
func keepTimes(t *testing.T, p string, change func()) {
	t.Helper()
	info, err := os.Lstat(p)
	must(t, err)
	change()
	must(t, os.Chtimes(p, info.ModTime(), info.ModTime()))
}

func TestCheckFindsEveryKindOfDamage(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, root string)
		want   string // in the error; "" for none
	}{
		{"intact", func(*testing.T, string) {}, ""},
		{"a header changed in place at the same size, its time kept", func(t *testing.T, root string) {
			p := filepath.Join(root, "include", "linux", "fs.h")
			keepTimes(t, p, func() { must(t, os.WriteFile(p, []byte("struct file { int f_MODE; };\n"), 0o644)) })
		}, "include/linux/fs.h: content differs"},
		{"a byte flipped deep in a large file", func(t *testing.T, root string) {
			p := filepath.Join(root, "vmlinux")
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteAt([]byte("K"), 77777)
			must(t, err)
			must(t, f.Close())
		}, "vmlinux: content differs"},
		{"cut short", func(t *testing.T, root string) {
			must(t, os.Truncate(filepath.Join(root, "vmlinux"), 50000))
		}, "vmlinux: 50000 bytes, 100000 when it was made"},
		{"removed", func(t *testing.T, root string) {
			must(t, os.Remove(filepath.Join(root, "include", "linux", "fs.h")))
		}, "include/linux/fs.h: missing"},
		{"a link pointed elsewhere, same length", func(t *testing.T, root string) {
			p := filepath.Join(root, "inc")
			must(t, os.Remove(p))
			must(t, os.Symlink("exclude", p))
		}, "inc: content differs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, s := entry(t)
			c.damage(t, root)
			_, err := s.Check(root)
			if c.want == "" {
				must(t, err)
				return
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check: %v, want damage naming %q", err, c.want)
			}
		})
	}
}

// A file only touched, or copied back over itself, is hashed once, found
// intact, and its new fingerprint is kept so that the next check does not
// hash it.
func TestCheckRefreshesTheFingerprintOfAnUnchangedFile(t *testing.T) {
	root, s := entry(t)
	p := filepath.Join(root, "vmlinux")
	later := time.Now().Add(time.Hour)
	must(t, os.Chtimes(p, later, later))
	refreshed, err := s.Check(root)
	must(t, err)
	if !refreshed {
		t.Fatal("a touched file's new fingerprint was not taken")
	}
	if refreshed, err = s.Check(root); err != nil || refreshed {
		t.Fatalf("second check: refreshed %v, %v; want nothing to do", refreshed, err)
	}
}

// Verify hashes even what the fingerprints vouch for: a change made with
// the fingerprint restored (only root, by setting the clock, can) is found.
func TestVerifyHashesEveryFile(t *testing.T) {
	root, s := entry(t)
	p := filepath.Join(root, "include", "linux", "fs.h")
	must(t, os.WriteFile(p, []byte("struct file { int f_MODE; };\n"), 0o644))
	info, err := os.Lstat(p)
	must(t, err)
	for i := range s.Files {
		if s.Files[i].Path == "include/linux/fs.h" {
			s.Files[i].FP = FingerprintOf(info) // as if the clock had been set back
		}
	}
	if _, err := s.Check(root); err != nil {
		t.Fatalf("Check trusts the fingerprint, got %v", err)
	}
	if _, err := s.Verify(root); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Verify: %v, want the damage", err)
	}
}

func TestWriteReadRoundTripAndGarbledFiles(t *testing.T) {
	_, s := entry(t)
	p := filepath.Join(t.TempDir(), "digests")
	must(t, s.Write(p))
	got, err := Read(p)
	must(t, err)
	if len(got.Files) != len(s.Files) {
		t.Fatalf("read %d files, wrote %d", len(got.Files), len(s.Files))
	}
	for i := range s.Files {
		if got.Files[i] != s.Files[i] {
			t.Errorf("read %+v, wrote %+v", got.Files[i], s.Files[i])
		}
	}
	data, err := os.ReadFile(p)
	must(t, err)
	for name, bad := range map[string]string{
		"cut short":  string(data[:len(data)-10]),
		"no header":  strings.SplitN(string(data), "\n", 2)[1],
		"bad digest": strings.Replace(string(data), "\n", "\nzz", 1),
	} {
		must(t, os.WriteFile(p, []byte(bad), 0o644))
		if _, err := Read(p); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Read: %v, want ErrDamaged", name, err)
		}
	}
}
