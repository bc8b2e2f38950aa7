package qemu

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeState writes stream as QEMU would and seals it.
func writeState(t *testing.T, stream []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.state")
	if err := os.WriteFile(p, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sealState(p); err != nil {
		t.Fatal(err)
	}
	return p
}

type nopCloser struct{ strings.Builder }

func (nopCloser) Close() error { return nil }

func TestSavedStateVerifiesWholeAndRefusesDamage(t *testing.T) {
	// Like a guest's RAM: pages of noise among zeroes.
	stream := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(stream[:1<<18])
	good := writeState(t, stream)
	f, n, sum, err := openState(good)
	if err != nil {
		t.Fatal(err)
	}
	var got nopCloser
	if err := feedState(f, n, sum, &got); err != nil || got.String() != string(stream) {
		t.Fatalf("feed of a good state: %v, %d bytes of %d", err, got.Len(), len(stream))
	}

	b, _ := os.ReadFile(good)
	cut := filepath.Join(t.TempDir(), "cut.state")
	os.WriteFile(cut, b[:len(b)-5], 0o644)
	if _, _, _, err := openState(cut); err == nil {
		t.Error("a state cut short opened")
	}
	flipped := filepath.Join(t.TempDir(), "flipped.state")
	if len(b) >= len(stream) {
		t.Errorf("the sealed state takes %d bytes for a %d-byte stream: not compressed", len(b), len(stream))
	}
	b[len(b)/2] ^= 0x40
	os.WriteFile(flipped, b, 0o644)
	f, n, sum, err = openState(flipped)
	if err != nil {
		t.Fatal(err) // the trailer is intact: the checksum must catch it
	}
	if err := feedState(f, n, sum, &nopCloser{}); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("feed of a damaged state: %v, want a checksum mismatch", err)
	}
	if _, _, _, err := openState(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing state: %v", err)
	}
}

// Every part of a snapshot's key names another file: a stale snapshot is
// never found.
func TestSnapshotKeyChangesWithEveryPart(t *testing.T) {
	dir := t.TempDir()
	kernel, initrd := filepath.Join(dir, "vmlinux"), filepath.Join(dir, "initrd")
	os.WriteFile(kernel, []byte("kernel"), 0o644)
	os.WriteFile(initrd, []byte("base"), 0o644)
	base := Config{Kernel: kernel, Initrd: initrd, Binary: "true", Accel: AccelTCG,
		Serial: []Port{{Name: "console"}, {Name: "control", Duplex: true, Param: "kmodvm.control"}}, ShareMiB: 64}
	name := func(c Config, extra ...string) string {
		t.Helper()
		k, err := KeyOf(c, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return k.Name()
	}
	ref := name(base, "kernel-id")
	if again := name(base, "kernel-id"); again != ref {
		t.Fatalf("the same VM has two keys: %s, %s", ref, again)
	}
	changes := map[string]func(c *Config) []string{
		"memory":    func(c *Config) []string { c.MemoryMiB = 512; return nil },
		"cpus":      func(c *Config) []string { c.CPUs = 2; return nil },
		"cmdline":   func(c *Config) []string { c.Append = []string{"foo=1"}; return nil },
		"accel":     func(c *Config) []string { c.Accel = AccelKVM; return nil },
		"share":     func(c *Config) []string { c.ShareMiB = 32; return nil },
		"ports":     func(c *Config) []string { c.Serial = c.Serial[:1]; return nil },
		"kernel id": func(c *Config) []string { return []string{"other-id"} },
		"initrd": func(c *Config) []string {
			p := filepath.Join(dir, "initrd2")
			os.WriteFile(p, []byte("base, another agent"), 0o644)
			c.Initrd = p
			return nil
		},
		"kernel file": func(c *Config) []string {
			p := filepath.Join(dir, "vmlinux2")
			os.WriteFile(p, []byte("another kernel"), 0o644)
			c.Kernel = p
			return nil
		},
	}
	seen := []string{ref}
	for what, change := range changes {
		c := base
		c.Serial = slices.Clone(base.Serial)
		extra := change(&c)
		if extra == nil {
			extra = []string{"kernel-id"}
		}
		n := name(c, extra...)
		if slices.Contains(seen, n) {
			t.Errorf("changing the %s kept the name %s", what, n)
		}
		seen = append(seen, n)
	}
}

func TestSnapshotsPruneRemovesStates(t *testing.T) {
	s := &Snapshots{Dir: t.TempDir()}
	k := Key{Format: stateFormat, Kernel: "k"}
	os.WriteFile(s.Path(k), make([]byte, 1000), 0o644)
	unlock, ok := s.TryLock(k)
	if !ok {
		t.Fatal("no lock on a fresh store")
	}
	if _, again := s.TryLock(k); again {
		t.Error("the lock was taken twice")
	}
	unlock()
	old := Key{Format: stateFormat, Kernel: "old"}
	os.WriteFile(s.Path(old), make([]byte, 500), 0o644)
	week := time.Now().Add(-8 * 24 * time.Hour)
	os.Chtimes(s.Path(old), week, week)
	if freed, err := s.Prune(7 * 24 * time.Hour); err != nil || freed != 500 {
		t.Fatalf("Prune(a week) = %d, %v; want the unused state's 500 bytes", freed, err)
	}
	if _, err := os.Stat(s.Path(k)); err != nil {
		t.Fatalf("Prune(a week) removed a fresh state: %v", err)
	}
	freed, err := s.Prune(0)
	if err != nil || freed != 1000 {
		t.Fatalf("Prune(0) = %d, %v; want 1000 bytes", freed, err)
	}
	if _, err := os.Stat(s.Path(k)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state survived Prune: %v", err)
	}
}

func TestRestoreArgsLoadPausedFromTheFdAfterThePorts(t *testing.T) {
	c := Config{Kernel: "k", Initrd: "i", Restore: "s.state", ShareMiB: 64,
		Serial: []Port{{Name: "console"}, {Name: "events"}, {Name: "control", Duplex: true}}}
	args := strings.Join(c.Args(AccelTCG, "q.sock"), " ")
	for _, want := range []string{"-S -incoming fd:6", "ivshmem-plain,master=on,memdev=kmodvm-share", "memory-backend-file,id=kmodvm-share,mem-path=share.mem,size=64M,share=on"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	c.SharePath = "/out/6.1/.share.mem"
	if args := strings.Join(c.Args(AccelTCG, "q.sock"), " "); !strings.Contains(args, "mem-path=/out/6.1/.share.mem,") {
		t.Errorf("args lack the caller's shared memory file: %s", args)
	}
	c.Restore = ""
	if args := strings.Join(c.Args(AccelTCG, "q.sock"), " "); strings.Contains(args, "-incoming") {
		t.Errorf("a boot's args load a state: %s", args)
	}
}
