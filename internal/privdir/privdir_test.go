package privdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is a uid no test process runs as.
const nobody = 65534

func TestInUsesOnlyADirectoryOfItsOwn(t *testing.T) {
	for _, c := range []struct {
		name    string
		prepare func(t *testing.T, want string) // makes parent/kmodvm-x first, or not
		own     bool                            // In returns it
		mode    os.FileMode                     // its mode after In, when own
	}{
		{"absent: made", func(*testing.T, string) {}, true, 0o700},
		{"made before by this user", func(t *testing.T, p string) { mkdir(t, p, 0o700) }, true, 0o700},
		{"this user's, readable by others: closed", func(t *testing.T, p string) { mkdir(t, p, 0o755) }, true, 0o700},
		{"this user's, writable by others", func(t *testing.T, p string) { mkdir(t, p, 0o777) }, false, 0},
		{"a link to a directory of this user's", func(t *testing.T, p string) {
			target := t.TempDir()
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, false, 0},
		{"a file", func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, 0},
		{"another user's", func(t *testing.T, p string) {
			if os.Geteuid() != 0 {
				t.Skip("giving a directory to another user needs root")
			}
			mkdir(t, p, 0o700)
			if err := os.Chown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			want := filepath.Join(parent, "kmodvm-x")
			c.prepare(t, want)
			dir, note, err := In(parent, "kmodvm-x")
			if err != nil {
				t.Fatal(err)
			}
			if got := dir == want; got != c.own {
				t.Fatalf("In = %s, note %q; want its own directory %v", dir, note, c.own)
			}
			if !c.own {
				if !strings.HasPrefix(filepath.Base(dir), "kmodvm-x-") || !strings.Contains(note, want) || Check(dir) != nil {
					t.Errorf("instead: %s (%v), note %q", dir, Check(dir), note)
				}
				if again, _, _ := In(parent, "kmodvm-x"); again != dir {
					t.Errorf("the next In made %s, not reusing %s", again, dir)
				}
				return
			}
			info, err := os.Lstat(dir)
			if err != nil || info.Mode().Perm() != c.mode || note != "" {
				t.Errorf("%s: %v %v, note %q", dir, info.Mode(), err, note)
			}
		})
	}
}

// A directory taken over after it was made is refused at its next use.
func TestCheckRefusesADirectorySwappedForALink(t *testing.T) {
	parent := t.TempDir()
	dir, _, err := In(parent, "kmodvm-x")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), dir); err != nil {
		t.Fatal(err)
	}
	if err := Check(dir); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("Check of a link: %v", err)
	}
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
}
