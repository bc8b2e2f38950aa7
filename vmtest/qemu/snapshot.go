package qemu

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// A saved VM state is QEMU's migration stream compressed with zstd (a
// booted guest's RAM shrinks to about a third) and followed by a trailer of
// stateTrailer bytes: stateMagic, the compressed stream's length and its
// CRC-32C. A file cut short has no trailer; a damaged one fails the
// checksum, which Start checks while QEMU reads the stream and before the
// guest runs. A file of an earlier format has another magic and is
// refused like a damaged one (the caller then boots and saves anew).
const (
	stateMagic   = "KMODVMS2"
	stateTrailer = len(stateMagic) + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrRestore is returned (wrapped) by Start when Config.Restore could not
// be used: the file is missing, cut short or damaged, or QEMU refused it.
// The VM is gone by then; the caller boots the kernel instead.
var ErrRestore = errors.New("qemu: restore")

// Save time limits: a stopped guest's RAM goes to a file at disk speed.
const saveTimeout = 2 * time.Minute

// Save writes the VM's state to path, atomically (a temporary file renamed
// into place), and lets the guest run on: the VM is stopped while QEMU
// writes its migration stream, then continued. A VM started with
// Config.Restore set to path resumes from that moment. The devices of that
// VM must be the same (the same Config but for its ports' ends, Restore and
// Share's file); the caller keys its files by what would change them.
func (v *VM) Save(path string) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
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
	if _, err := v.QMP("migrate", map[string]any{"uri": "exec:cat > " + shellQuote(tmp)}); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := v.awaitMigration(); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := sealState(tmp); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("qemu: save: %w", err)
	}
	return nil
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

// sealState compresses the stream QEMU wrote to path and appends the
// trailer, in place (through a temporary file renamed over it).
func sealState(path string) error {
	raw, err := os.Open(path)
	if err != nil {
		return err
	}
	defer raw.Close()
	tmp := path + ".zst"
	defer os.Remove(tmp)
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	cw := &countWriter{w: io.MultiWriter(f, h)}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return err
	}
	n, err := io.Copy(zw, raw)
	if err != nil {
		zw.Close()
		return err
	}
	if n == 0 {
		zw.Close()
		return errors.New("QEMU wrote an empty state")
	}
	if err := zw.Close(); err != nil {
		return err
	}
	var t bytes.Buffer
	t.WriteString(stateMagic)
	binary.Write(&t, binary.LittleEndian, uint64(cw.n))
	binary.Write(&t, binary.LittleEndian, h.Sum32())
	if _, err := f.Write(t.Bytes()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// IsSavedState reports whether path holds a saved state of this
// kmodvm's format, whole (its trailer intact; the checksum is checked
// only when it is restored).
func IsSavedState(path string) bool {
	f, _, _, err := openState(path)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// openState opens a saved state and checks its trailer: it returns the file
// positioned at the stream, the stream's length and its checksum.
func openState(path string) (*os.File, int64, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, err
	}
	t := make([]byte, stateTrailer)
	if fi.Size() < int64(stateTrailer) {
		f.Close()
		return nil, 0, 0, fmt.Errorf("%s: %d bytes, too short for a saved state", path, fi.Size())
	}
	if _, err := f.ReadAt(t, fi.Size()-int64(stateTrailer)); err != nil {
		f.Close()
		return nil, 0, 0, err
	}
	n := int64(binary.LittleEndian.Uint64(t[len(stateMagic):]))
	if string(t[:len(stateMagic)]) != stateMagic || n != fi.Size()-int64(stateTrailer) {
		f.Close()
		return nil, 0, 0, fmt.Errorf("%s: no valid trailer (cut short, or not a saved state)", path)
	}
	return f, n, binary.LittleEndian.Uint32(t[len(stateMagic)+8:]), nil
}

// feedState decompresses the stream of an opened state into w (QEMU's
// incoming pipe), closes both and reports whether the file matched its
// checksum: a damaged file is named as such even when the damage first
// shows as a zstd error.
func feedState(f *os.File, n int64, sum uint32, w io.WriteCloser) error {
	defer f.Close()
	h := crc32.New(castagnoli)
	in := io.TeeReader(io.LimitReader(f, n), h)
	zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1))
	if err == nil {
		_, err = io.Copy(w, zr)
		zr.Close()
	}
	w.Close()
	// Whatever the decoder left unread still counts for the checksum.
	if _, derr := io.Copy(io.Discard, in); derr != nil && err == nil {
		err = derr
	}
	if h.Sum32() != sum {
		return fmt.Errorf("%s: checksum mismatch: the saved state is damaged", f.Name())
	}
	if err != nil {
		return fmt.Errorf("feed saved state: %w", err)
	}
	return nil
}

// restoreTimeout bounds the load of a saved state into QEMU.
const restoreTimeout = time.Minute

// awaitRestore waits until QEMU has loaded the incoming state (it is then
// paused, started with -S) and the feeder has verified it, and starts the
// guest.
func (v *VM) awaitRestore(fed <-chan error) error {
	deadline := time.Now().Add(restoreTimeout)
	for {
		select {
		case <-v.exited:
			return errors.New("QEMU exited while loading the state" + stderrSuffix(v.stderr.String()))
		default:
		}
		raw, err := v.QMP("query-status", nil)
		if err != nil {
			return err
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
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-fed; err != nil {
		return err
	}
	return v.Cont()
}

func stderrSuffix(s string) string {
	s = strings.TrimSpace(dropWaitNotice(s))
	if s == "" {
		return ""
	}
	return ": " + s
}

// incomingArgs are QEMU's arguments to load a state from the inherited file
// descriptor fd, paused.
func incomingArgs(fd int) []string {
	return []string{"-S", "-incoming", "fd:" + strconv.Itoa(fd)}
}

// shellQuote quotes s for /bin/sh, which runs QEMU's exec: migrations.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shareID is the id of the shared memory's backend.
const shareID = "kmodvm-share"

// makeShare creates the file behind Config.ShareMiB in dir.
func (v *VM) makeShare(cfg *Config, dir string) error {
	path := cfg.SharePath
	if path == "" {
		path = filepath.Join(dir, "share.mem")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("qemu: shared memory: %w", err)
	}
	if err := f.Truncate(int64(cfg.ShareMiB) << 20); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("qemu: shared memory: %w", err)
	}
	cfg.sharePath, v.cfg.sharePath, v.share = path, path, f
	v.cleanup = append(v.cleanup, func() { f.Close(); os.Remove(path) })
	return nil
}

// Share returns the host's end of the memory Config.ShareMiB shares with
// the guest (write with WriteAt; the guest sees the bytes at once), or nil.
func (v *VM) Share() *os.File { return v.share }
