package qemu

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// privateParents points the RAM directories' parents (/dev/shm and the
// temporary directory) at fresh directories of the test's, each sticky and
// writable by all as the real ones are.
func privateParents(t *testing.T) (shm, tmp string) {
	t.Helper()
	shm, tmp = t.TempDir(), t.TempDir()
	for _, d := range []string{shm, tmp} {
		if err := os.Chmod(d, 0o1777); err != nil {
			t.Fatal(err)
		}
	}
	old := shmDir
	shmDir = shm
	t.Cleanup(func() { shmDir = old })
	t.Setenv("TMPDIR", tmp)
	return shm, tmp
}

// guestRAM is 4 MiB like a guest's: pages of noise among zeroes.
func guestRAM() []byte {
	ram := make([]byte, 4<<20)
	rng := rand.NewChaCha8([32]byte{2})
	rng.Read(ram[:1<<18])
	rng.Read(ram[3<<20 : 3<<20+5000])
	return ram
}

// A RAM copy damaged after it was made (a byte changed in place, at its
// size and with its modification time put back), or one without its sum
// (an older kmodvm's), is not mapped: it is unpacked again.
func TestADamagedRAMCopyIsUnpackedAgain(t *testing.T) {
	privateParents(t)
	ram := guestRAM()
	state := writeState(t, []byte("devices"), ram)
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, copyPath string)
	}{
		{"a byte changed, its time kept", func(t *testing.T, p string) {
			info := must(os.Stat(p))
			f := must(os.OpenFile(p, os.O_WRONLY, 0))
			must(f.WriteAt([]byte{0x90}, 3<<20+100))
			f.Close()
			if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
				t.Fatal(err)
			}
		}},
		{"a zero page written", func(t *testing.T, p string) {
			f := must(os.OpenFile(p, os.O_WRONLY, 0))
			must(f.WriteAt([]byte("evil"), 2<<20))
			f.Close()
		}},
		{"no sum", func(t *testing.T, p string) {
			if err := os.Remove(p + ramSumSuffix); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := restoreCopy(t, state)
			c.damage(t, p)
			if again := restoreCopy(t, state); again != p {
				t.Errorf("copy made at %s, then %s", p, again)
			}
			if b := must(os.ReadFile(p)); !bytes.Equal(b, ram) {
				t.Errorf("the copy restored differs from the saved RAM")
			}
		})
	}
}

// restoreCopy returns the RAM copy a restore of state maps.
func restoreCopy(t *testing.T, state string) string {
	t.Helper()
	s, err := openState(state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.ramCopy(state)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A RAM directory someone else made first is never used: not another
// user's (/dev/shm/kmodvm-ram-<uid> given to uid 65534), not a link.
func TestARAMDirectoryMadeByAnotherIsNotUsed(t *testing.T) {
	for _, c := range []struct {
		name  string
		squat func(t *testing.T, p string)
	}{
		{"another user's", func(t *testing.T, p string) {
			if os.Geteuid() != 0 {
				t.Skip("giving a directory to another user needs root")
			}
			if err := os.Mkdir(p, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"a link to a directory the attacker reads", func(t *testing.T, p string) {
			if err := os.Symlink(t.TempDir(), p); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			shm, tmp := privateParents(t)
			name := fmt.Sprintf("kmodvm-ram-%d", os.Getuid())
			for _, parent := range []string{shm, tmp} {
				c.squat(t, filepath.Join(parent, name))
			}
			state := writeState(t, []byte("devices"), guestRAM())
			p := restoreCopy(t, state)
			dir := filepath.Dir(p)
			if dir == filepath.Join(shm, name) || dir == filepath.Join(tmp, name) || !strings.HasPrefix(filepath.Base(dir), name+"-") {
				t.Errorf("the RAM copy went to %s", dir)
			}
			if filepath.Dir(dir) != shm {
				t.Errorf("the private directory instead is %s, want one in %s", dir, shm)
			}
			for _, parent := range []string{shm, tmp} {
				squatted := filepath.Join(parent, name)
				if ents, _ := os.ReadDir(squatted); len(ents) > 0 {
					t.Errorf("kmodvm wrote into %s: %v", squatted, ents)
				}
			}
		})
	}
}
