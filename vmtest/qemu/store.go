package qemu

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/internal/cachedir"
)

// stateFormat is part of every snapshot's key: a change to how kmodvm
// saves or restores (the trailer, the agent's idle protocol, the devices)
// makes every older file stale.
const stateFormat = 3 // 2: the stream zstd-compressed; 3: the RAM apart, mapped

// Snapshots is a directory of saved VM states, one per key: the kernel and
// initramfs files' contents or identity, QEMU's binary, the accelerator,
// and every machine setting the state depends on. A snapshot is written
// once, under a lock, and renamed into place; one that cannot be used is a
// reason to boot, never an error.
type Snapshots struct {
	Dir string
}

// Key is what a saved state depends on. Fields are compared whole: any
// change names another file.
type Key struct {
	Format  int      `json:"format"`
	Binary  string   `json:"binary"` // path, size and time of QEMU's executable
	Arch    string   `json:"arch"`
	Accel   Accel    `json:"accel"`
	Kernel  string   `json:"kernel"` // path, size and time
	Initrd  string   `json:"initrd"` // SHA-256 of the contents
	Memory  int      `json:"memory_mib"`
	CPUs    int      `json:"cpus"`
	Cmdline string   `json:"cmdline"`
	Ports   []string `json:"ports"` // name and kind, in order
	Share   int      `json:"share_mib"`
	// Extra is the caller's: the kernel's cache identity, the agent's.
	Extra []string `json:"extra,omitempty"`
}

// KeyOf returns the key of cfg's VM (Restore ignored); extra names what
// else the caller's state depends on.
func KeyOf(cfg Config, extra ...string) (Key, error) {
	a, err := cfg.arch()
	if err != nil {
		return Key{}, err
	}
	accel := cfg.Accel.Resolve(a)
	bin, err := cfg.binary(a)
	if err != nil {
		return Key{}, err
	}
	k := Key{Format: stateFormat, Arch: a.Name, Accel: accel, Cmdline: cfg.CommandLine(),
		Memory: cfg.MemoryMiB, CPUs: cfg.CPUs, Share: cfg.ShareMiB, Extra: extra}
	if k.Memory <= 0 {
		k.Memory = DefaultMemoryMiB
	}
	if k.CPUs <= 0 {
		k.CPUs = DefaultCPUs
	}
	if k.Binary, err = statID(bin); err != nil {
		return Key{}, err
	}
	if k.Kernel, err = statID(cfg.Kernel); err != nil {
		return Key{}, err
	}
	if k.Initrd, err = fileSum(cfg.Initrd); err != nil {
		return Key{}, err
	}
	ports, err := cfg.ports(a)
	if err != nil {
		return Key{}, err
	}
	for _, p := range ports {
		k.Ports = append(k.Ports, fmt.Sprintf("%s:%v:%s", p.Name, p.Duplex, p.Param))
	}
	return k, nil
}

// Name is the key's file name.
func (k Key) Name() string {
	b, _ := json.Marshal(k)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12]) + ".state"
}

// Path returns where the state of key is kept.
func (s *Snapshots) Path(k Key) string { return filepath.Join(s.Dir, k.Name()) }

// TryLock takes the lock of key's state if no other process holds it: the
// holder makes the state. unlock releases it; ok is false when another
// process holds it (or locking is impossible).
func (s *Snapshots) TryLock(k Key) (unlock func(), ok bool) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, false
	}
	l := flock.New(strings.TrimSuffix(s.Path(k), ".state") + ".lock")
	if got, err := l.TryLock(); err != nil || !got {
		return nil, false
	}
	return func() { l.Unlock() }, true
}

// Discard removes key's state, once it failed to restore; a later run
// makes it again.
func (s *Snapshots) Discard(k Key) error {
	removeRAMCopies(s.Path(k))
	err := os.Remove(s.Path(k))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Touch marks key's state as used now (at most once an hour), for Prune.
func (s *Snapshots) Touch(k Key) { cachedir.Touch(s.Path(k)) }

// Prune removes the saved states (and stale temporary files) unused for
// olderThan, all of them when it is 0, and returns the bytes freed. Every
// change to the agent, a kernel or a machine setting makes new ones, so the
// directory would otherwise only grow. A writer whose temporary file is
// removed fails its rename and goes on without a snapshot.
func (s *Snapshots) Prune(olderThan time.Duration) (int64, error) {
	isState := func(e fs.DirEntry) bool { return !e.IsDir() && !strings.HasSuffix(e.Name(), ".lock") }
	_, freed, err := cachedir.Prune(s.Dir, olderThan, isState, func(p string) error {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if name, ok := strings.CutSuffix(p, ".state"); ok {
			os.Remove(name + ".lock")
			removeRAMCopies(p)
		}
		return nil
	})
	return freed, err
}

func statID(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	return fmt.Sprintf("%s:%d:%s", abs, fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano)), nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
