package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeState seals devices, as QEMU would write them, and ram as a
// guest's RAM file.
func writeState(t *testing.T, devices, ram []byte) string {
	t.Helper()
	dir := t.TempDir()
	// Named after the directory: RAM copies are named after states.
	p, dp := filepath.Join(dir, filepath.Base(dir)+".state"), filepath.Join(dir, "devices")
	if err := os.WriteFile(dp, devices, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sealState(p, dp, bytes.NewReader(ram), int64(len(ram))); err != nil {
		t.Fatal(err)
	}
	return p
}

type nopCloser struct{ strings.Builder }

func (nopCloser) Close() error { return nil }

// useRAMDir returns where the test's RAM copies go.
func useRAMDir(t *testing.T) string {
	t.Helper()
	dir, err := ramDir(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSavedStateVerifiesWholeAndRefusesDamage(t *testing.T) {
	// Like a guest's RAM: pages of noise among zeroes.
	ram := make([]byte, 4<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(ram[:1<<18])
	rng.Read(ram[3<<20 : 3<<20+5000])
	devices := []byte("QEVM devices' state")
	good := writeState(t, devices, ram)
	s, err := openState(good)
	if err != nil {
		t.Fatal(err)
	}
	var got nopCloser
	if err := s.feedDevices(&got); err != nil || got.String() != string(devices) {
		t.Fatalf("feed of a good state: %v, %q", err, got.String())
	}
	dir := useRAMDir(t)
	copyPath, err := s.ramCopy(good)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeRAMCopies(good) })
	if filepath.Dir(copyPath) != dir {
		t.Errorf("RAM copy %s is not in %s", copyPath, dir)
	}
	if b, err := os.ReadFile(copyPath); err != nil || !bytes.Equal(b, ram) {
		t.Fatalf("the RAM copy differs from the saved RAM (%v)", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(copyPath, &st); err == nil && st.Blocks*512 > 2<<20 {
		t.Errorf("the RAM copy takes %d bytes for 300 KB of data: not sparse", st.Blocks*512)
	}

	b, _ := os.ReadFile(good)
	cut := filepath.Join(t.TempDir(), "cut.state")
	os.WriteFile(cut, b[:len(b)-5], 0o644)
	if _, err := openState(cut); err == nil {
		t.Error("a state cut short opened")
	}
	if len(b) >= len(ram)/2 {
		t.Errorf("the sealed state takes %d bytes for %d bytes of RAM: not compressed", len(b), len(ram))
	}
	// Damage to either part is caught before the guest runs: the devices'
	// part by its feeder, the RAM's when its copy is made (then none is).
	sg, _ := openState(good)
	sg.Close()
	for i, at := range []int64{3, sg.ram.off + sg.ram.n/2} {
		flipped := filepath.Join(t.TempDir(), fmt.Sprintf("%s-flipped%d.state", filepath.Base(t.TempDir()), i))
		d := slices.Clone(b)
		d[at] ^= 0x40
		os.WriteFile(flipped, d, 0o644)
		s, err := openState(flipped)
		if err != nil {
			t.Fatal(err) // the trailer is intact: the checksum must catch it
		}
		ferr := s.feedDevices(&nopCloser{})
		_, rerr := s.ramCopy(flipped)
		s.Close()
		t.Cleanup(func() { removeRAMCopies(flipped) })
		if bad := []error{ferr, rerr}[i]; bad == nil || !strings.Contains(bad.Error(), "checksum") {
			t.Errorf("damage at byte %d: feed %v, RAM copy %v; want a checksum mismatch", at, ferr, rerr)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, ramCopyName(flipped, s.ram.sum))); i == 1 && len(m) != 0 {
			t.Errorf("a damaged state left a RAM copy: %v", m)
		}
	}
	if _, err := openState(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing state: %v", err)
	}
}

func TestRAMCopiesAreEvictedLeastRecentlyUsedFirst(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("s%d-00000000.ram", i))
		os.WriteFile(p, make([]byte, 1<<20), 0o600)
		at := time.Now().Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(p, at, at)
		paths = append(paths, p)
	}
	running := filepath.Join(dir, vmRAMPrefix+"x.ram")
	os.WriteFile(running, make([]byte, 1<<20), 0o600)
	// The oldest is kept as the one in use; the next two go.
	evictRAMCopies(dir, paths[0], 2<<20+1)
	for i, p := range paths {
		_, err := os.Stat(p)
		if gone := err != nil; gone != (i == 1 || i == 2) {
			t.Errorf("copy %d: gone %v", i, gone)
		}
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("a running VM's RAM file was evicted: %v", err)
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

func TestRestoreArgsMapTheSavedRAMAndLoadPaused(t *testing.T) {
	c := Config{Kernel: "k", Initrd: "i", Restore: "s.state", ShareMiB: 64,
		Serial: []Port{{Name: "console"}, {Name: "events"}, {Name: "control", Duplex: true}}}
	c.ram = ramFile{path: "/dev/shm/x.ram"}
	args := strings.Join(c.Args(AccelTCG, "q.sock"), " ")
	for _, want := range []string{"-S -incoming defer", "ivshmem-plain,master=on,memdev=kmodvm-share",
		"memory-backend-file,id=kmodvm-share,mem-path=share.mem,size=64M,share=off",
		"-machine memory-backend=kmodvm-ram -object memory-backend-file,id=kmodvm-ram,mem-path=/dev/shm/x.ram,size=256M,share=off"} {
		if !strings.Contains(args, want) {
			t.Errorf("restore args lack %q: %s", want, args)
		}
	}
	c.SharePath = "/out/6.1/.share.mem"
	if args := strings.Join(c.Args(AccelTCG, "q.sock"), " "); !strings.Contains(args, "mem-path=/out/6.1/.share.mem,") {
		t.Errorf("args lack the caller's shared memory file: %s", args)
	}
	// The VM to save maps both shared: its state leaves them out.
	c.Restore, c.Saveable, c.ram = "", true, ramFile{path: "/dev/shm/vm-1.ram", shared: true}
	args = strings.Join(c.Args(AccelTCG, "q.sock"), " ")
	if strings.Contains(args, "-incoming") || strings.Contains(args, "share=off") ||
		!strings.Contains(args, "id=kmodvm-ram,mem-path=/dev/shm/vm-1.ram,size=256M,share=on") {
		t.Errorf("a saveable boot's args: %s", args)
	}
	c.Saveable = false
	if args := strings.Join(c.Args(AccelTCG, "q.sock"), " "); strings.Contains(args, "memory-backend=") {
		t.Errorf("a plain boot's RAM is a file: %s", args)
	}
}

// A RAM file goes where there is room for it, and nowhere when there is
// none: the caller then boots (ErrNoRAMFile, not a damaged state).
func TestRAMDirNeedsRoom(t *testing.T) {
	if dir, err := ramDir(1 << 20); err != nil || !slices.Contains(ramDirs(), dir) {
		t.Errorf("ramDir(1 MiB) = %q, %v", dir, err)
	}
	if _, err := ramDir(1 << 62); !errors.Is(err, ErrNoRAMFile) || errors.Is(err, ErrRestore) {
		t.Errorf("ramDir(4 EiB): %v, want ErrNoRAMFile", err)
	}
}
