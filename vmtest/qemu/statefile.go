package qemu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/kmodvm/kmodvm/internal/zfile"
)

// A saved VM state is two zstd-compressed parts and a trailer. The first
// part is QEMU's migration stream of the devices (a few hundred KB: the
// guest's RAM is left out, QEMU's x-ignore-shared); the second is the
// guest's RAM, the file QEMU mapped it from (a booted guest's 256 MiB
// shrink to about 15 MB). The trailer, stateTrailer bytes, holds
// stateMagic, each part's length and CRC-32C, and the RAM's size. A file
// cut short has no trailer; a damaged part fails its checksum, which is
// checked before the guest runs. A file of an earlier format has another
// magic and is refused like a damaged one (the caller then boots and saves
// anew).
const (
	stateMagic   = "KMODVMS3"
	stateTrailer = len(stateMagic) + 2*(8+4) + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// statePart is where a compressed part lies in its file, and its checksum.
type statePart struct {
	off, n int64
	sum    uint32
}

// stateFile is an opened saved state whose trailer was found intact.
type stateFile struct {
	f       *os.File
	devices statePart
	ram     statePart
	ramSize int64 // the guest RAM's bytes, uncompressed
}

// openState opens a saved state and checks its trailer.
func openState(path string) (*stateFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := readTrailer(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func readTrailer(f *os.File) (*stateFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < int64(stateTrailer) {
		return nil, fmt.Errorf("%s: %d bytes, too short for a saved state", f.Name(), fi.Size())
	}
	t := make([]byte, stateTrailer)
	if _, err := f.ReadAt(t, fi.Size()-int64(stateTrailer)); err != nil {
		return nil, err
	}
	if string(t[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%s: no valid trailer (cut short, an older kmodvm's, or not a saved state)", f.Name())
	}
	le := binary.LittleEndian
	r := t[len(stateMagic):]
	s := &stateFile{f: f}
	s.devices = statePart{0, int64(le.Uint64(r)), le.Uint32(r[8:])}
	s.ram = statePart{s.devices.n, int64(le.Uint64(r[12:])), le.Uint32(r[20:])}
	s.ramSize = int64(le.Uint64(r[24:]))
	if s.devices.n <= 0 || s.ram.n <= 0 || s.ramSize <= 0 ||
		s.devices.n+s.ram.n != fi.Size()-int64(stateTrailer) {
		return nil, fmt.Errorf("%s: no valid trailer (cut short, or not a saved state)", f.Name())
	}
	return s, nil
}

// Close closes the state's file.
func (s *stateFile) Close() error { return s.f.Close() }

// part returns a reader of p's compressed bytes that checks them against
// p's checksum: check reports a mismatch once every byte was read (it
// reads what the caller left), naming the file as damaged.
func (s *stateFile) part(p statePart) (io.Reader, func() error) {
	h := crc32.New(castagnoli)
	in := io.TeeReader(io.NewSectionReader(s.f, p.off, p.n), h)
	return in, func() error {
		if _, err := io.Copy(io.Discard, in); err != nil {
			return err
		}
		if h.Sum32() != p.sum {
			return fmt.Errorf("%s: checksum mismatch: the saved state is damaged", s.f.Name())
		}
		return nil
	}
}

// feedDevices decompresses the devices' stream into w (QEMU's incoming
// pipe), closes w and reports whether the part matched its checksum: a
// damaged file is named as such even when the damage first shows as a zstd
// error.
func (s *stateFile) feedDevices(w io.WriteCloser) error {
	in, check := s.part(s.devices)
	err := unzstd(w, in)
	w.Close()
	if cerr := check(); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("feed saved state: %w", err)
	}
	return nil
}

// unzstd decompresses in into w.
func unzstd(w io.Writer, in io.Reader) error {
	zr, err := zfile.NewReader(in)
	if err != nil {
		return err
	}
	defer zr.Close()
	_, err = io.Copy(w, zr)
	return err
}

// sealState writes path: the devices' stream QEMU wrote to devices, and
// ramSize bytes of the guest RAM read from ram, each compressed, and the
// trailer; the file is synced.
func sealState(path, devices string, ram io.ReaderAt, ramSize int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dev, err := os.Open(devices)
	if err != nil {
		return err
	}
	defer dev.Close()
	var t bytes.Buffer
	t.WriteString(stateMagic)
	for _, in := range []io.Reader{dev, io.NewSectionReader(ram, 0, ramSize)} {
		n, sum, raw, err := compressPart(f, in)
		if err != nil {
			return err
		}
		if raw == 0 {
			return errors.New("QEMU wrote an empty state")
		}
		binary.Write(&t, binary.LittleEndian, uint64(n))
		binary.Write(&t, binary.LittleEndian, sum)
	}
	binary.Write(&t, binary.LittleEndian, uint64(ramSize))
	if _, err := f.Write(t.Bytes()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// compressPart appends in, compressed, to w: it returns the compressed
// length, its checksum and the bytes read.
func compressPart(w io.Writer, in io.Reader) (n int64, sum uint32, raw int64, err error) {
	h := crc32.New(castagnoli)
	cw := &countWriter{w: io.MultiWriter(w, h)}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return 0, 0, 0, err
	}
	raw, err = io.Copy(zw, in)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return cw.n, h.Sum32(), raw, err
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
// kmodvm's format, whole (its trailer intact; the checksums are checked
// only when it is restored).
func IsSavedState(path string) bool {
	s, err := openState(path)
	if err != nil {
		return false
	}
	s.Close()
	return true
}
