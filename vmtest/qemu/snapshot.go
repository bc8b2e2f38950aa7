package qemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrRestore is returned (wrapped) by Start when Config.Restore could not
// be used: the file is missing, cut short or damaged, or QEMU refused it.
// The VM is gone by then; the caller boots the kernel instead.
var ErrRestore = errors.New("qemu: restore")

// Save time limits: a stopped guest's RAM goes to a file at disk speed.
const saveTimeout = 2 * time.Minute

// Save writes the VM's state to path, atomically (a temporary file renamed
// into place), and lets the guest run on: the VM is stopped while QEMU
// writes the devices' state and its RAM is compressed, then continued. The
// VM must have been started with Config.Saveable. A VM started with
// Config.Restore set to path resumes from that moment. The devices of that
// VM must be the same (the same Config but for its ports' ends, Restore and
// Share's file); the caller keys its files by what would change them.
func (v *VM) Save(path string) (err error) {
	if v.ram == nil {
		return errors.New("qemu: save: the VM's RAM is no file (start it with Config.Saveable)")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	devices := tmp + ".devices"
	defer os.Remove(devices)
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := v.Stop(); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	defer func() {
		if cerr := v.Cont(); cerr != nil && err == nil {
			err = fmt.Errorf("qemu: save: continue: %w", cerr)
		}
	}()
	// QEMU's default bandwidth limit (128 MiB/s) would pace a file.
	if _, err := v.QMP("migrate-set-parameters", map[string]any{"max-bandwidth": int64(1) << 40}); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := v.ignoreSharedRAM(); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := v.migrateTo(devices); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	fi, err := v.ram.Stat()
	if err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := sealState(tmp, devices, v.ram, fi.Size()); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	return nil
}

// migrateTo has QEMU write the devices' state to a socket in the VM's
// work directory (private: only this user can connect) and copies it
// into the file at path. QEMU 7.2 has no file: migration, and its
// sandbox forbids the exec: one (spawn=deny).
func (v *VM) migrateTo(path string) error {
	sock := filepath.Join(v.dir, "save.sock")
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	defer os.Remove(sock)
	defer ln.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	copied := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			copied <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(out, c)
		copied <- err
	}()
	if _, err := v.QMP("migrate", map[string]any{"uri": "unix:" + sock}); err != nil {
		return err
	}
	if err := v.awaitMigration(); err != nil {
		return err
	}
	// QEMU closes the connection once the migration completed.
	select {
	case err := <-copied:
		if err != nil {
			return err
		}
	case <-time.After(saveTimeout):
		return errors.New("the devices' state did not end")
	}
	return out.Close()
}

// ignoreSharedRAM leaves the RAM QEMU maps shared (the guest's and the
// shared memory's) out of the migration stream: a saved guest's RAM is
// kept from its file, and a restored one maps it.
func (v *VM) ignoreSharedRAM() error {
	_, err := v.QMP("migrate-set-capabilities", map[string]any{"capabilities": []map[string]any{
		{"capability": "x-ignore-shared", "state": true},
	}})
	return err
}

// awaitMigration polls the outgoing migration until it ends.
func (v *VM) awaitMigration() error {
	deadline := time.Now().Add(saveTimeout)
	for time.Now().Before(deadline) {
		raw, err := v.QMP("query-migrate", nil)
		if err != nil {
			return err
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("migration %s: %s", st.Status, st.ErrorDesc)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("migration did not end in time")
}

// openRestore opens Config.Restore and finds or makes its RAM copy, which
// the VM then maps. It returns the feeder of the devices' state and the
// pipe's end QEMU reads it from; errors wrap ErrRestore.
func (v *VM) openRestore() (feed func() error, r *os.File, err error) {
	cfg := &v.cfg
	s, err := openState(cfg.Restore)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrRestore, err)
	}
	if want := int64(cfg.memoryMiB()) << 20; s.ramSize != want {
		s.Close()
		return nil, nil, fmt.Errorf("%w: %s: the saved guest has %d bytes of RAM, this VM %d", ErrRestore, cfg.Restore, s.ramSize, want)
	}
	ram, err := s.ramCopy(cfg.Restore)
	if errors.Is(err, ErrNoRAMFile) {
		s.Close()
		return nil, nil, err
	}
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrRestore, cfg.Restore, err)
	}
	cfg.ram = ramFile{ram, false}
	r, w, err := os.Pipe()
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("qemu: %w", err)
	}
	v.cleanup = append(v.cleanup, func() { s.Close(); w.Close(); r.Close() })
	return func() error { return s.feedDevices(w) }, r, nil
}

// restoreTimeout bounds the load of a saved state into QEMU.
const restoreTimeout = time.Minute

// awaitRestore has QEMU, started with -incoming defer, load the devices'
// state from the inherited descriptor fd (Start's feeder writes it there),
// waits until it is loaded (QEMU is then paused, started with -S) and the
// feeder has verified it, and starts the guest.
func (v *VM) awaitRestore(fd int, fed <-chan error) error {
	if err := v.ignoreSharedRAM(); err != nil {
		return v.loadFailed(err)
	}
	if _, err := v.QMP("migrate-incoming", map[string]any{"uri": "fd:" + strconv.Itoa(fd)}); err != nil {
		return v.loadFailed(err)
	}
	deadline := time.Now().Add(restoreTimeout)
	for {
		raw, err := v.QMP("query-status", nil)
		if err != nil {
			return v.loadFailed(err)
		}
		var st struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		if st.Status != "inmigrate" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("QEMU did not load the state in time")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := <-fed; err != nil {
		return err
	}
	return v.Cont()
}

// loadFailed is the error of a monitor command that failed while QEMU
// loaded a state: QEMU's own message if it exited (it reports a state it
// refuses on stderr and exits, closing the monitor), else err.
func (v *VM) loadFailed(err error) error {
	select {
	case <-v.exited:
	case <-time.After(time.Second):
		return err
	}
	return errors.New("QEMU exited while loading the state" + stderrSuffix(v.stderr.String()))
}

func stderrSuffix(s string) string {
	s = strings.TrimSpace(dropWaitNotice(s))
	if s == "" {
		return ""
	}
	return ": " + s
}

// incomingArgs are QEMU's arguments to load a state, paused, once told
// where from (awaitRestore).
func incomingArgs() []string {
	return []string{"-S", "-incoming", "defer"}
}

// shareID is the id of the shared memory's backend.
const shareID = "kmodvm-share"

// makeShare creates the file behind Config.ShareMiB in dir.
func (v *VM) makeShare(dir string) error {
	path := v.cfg.SharePath
	if path == "" {
		path = filepath.Join(dir, "share.mem")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("qemu: shared memory: %w", err)
	}
	if err := f.Truncate(int64(v.cfg.ShareMiB) << 20); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("qemu: shared memory: %w", err)
	}
	v.cfg.sharePath, v.share = path, f
	v.cleanup = append(v.cleanup, func() { f.Close(); os.Remove(path) })
	return nil
}

// Share returns the host's end of the memory Config.ShareMiB shares with
// the guest (write with WriteAt; the guest sees the bytes at once), or nil.
func (v *VM) Share() *os.File { return v.share }
