// Package mmapdrv is the Go client of kmodvm's bundled example driver
// (kmod/), a fixed-size kernel buffer reached through /dev/mmapdrv with
// read, write, lseek, mmap and three ioctls. Its tests are the driver's
// test suite: they run inside a kmodvm guest against the loaded module, and
// only the pure parts (ioctl encoding, the buffer model) run on the host.
package mmapdrv

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DevicePath is where the driver's misc device appears.
const DevicePath = "/dev/mmapdrv"

// ModuleName is the kernel module's name, as in /sys/module.
const ModuleName = "mmapdrv"

// MaxBufSize is the largest bufsize the module accepts (MMAPDRV_MAX_BUFSIZE).
const MaxBufSize = 64 << 20

// Stats mirrors struct mmapdrv_stats: counters since the module was loaded.
type Stats struct {
	Reads  uint64 // read() calls that returned at least one byte
	Writes uint64 // write() calls that stored at least one byte
	Mmaps  uint64 // successful mmap() calls
	Faults uint64 // pages mapped in by the fault handler
	Clears uint64 // Clear calls
}

// Device is an open descriptor of the driver. Its methods are thin: each is
// one system call, so callers see exactly what the driver returned.
type Device struct {
	fd int
}

// Open opens DevicePath for reading and writing.
func Open() (*Device, error) {
	return OpenFile(DevicePath, unix.O_RDWR)
}

// OpenFile opens path with the given open(2) flags; O_CLOEXEC is added.
func OpenFile(path string, flags int) (*Device, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Device{fd: fd}, nil
}

// Fd returns the file descriptor, for system calls the client does not wrap.
func (d *Device) Fd() int { return d.fd }

// Close closes the descriptor. Mappings made from it stay valid.
func (d *Device) Close() error {
	if err := unix.Close(d.fd); err != nil {
		return fmt.Errorf("close %s: %w", DevicePath, err)
	}
	return nil
}

// Size returns the buffer's size in bytes (MMAPDRV_IOC_GET_SIZE).
func (d *Device) Size() (int64, error) {
	var size uint64
	if err := d.Ioctl(IoctlGetSize, unsafe.Pointer(&size)); err != nil {
		return 0, fmt.Errorf("get size: %w", err)
	}
	return int64(size), nil
}

// Clear zeroes the whole buffer (MMAPDRV_IOC_CLEAR). The descriptor must be
// open for writing.
func (d *Device) Clear() error {
	if err := d.Ioctl(IoctlClear, nil); err != nil {
		return fmt.Errorf("clear: %w", err)
	}
	return nil
}

// Stats returns the driver's counters (MMAPDRV_IOC_GET_STATS).
func (d *Device) Stats() (Stats, error) {
	var st Stats
	if err := d.Ioctl(IoctlGetStats, unsafe.Pointer(&st)); err != nil {
		return Stats{}, fmt.Errorf("get stats: %w", err)
	}
	return st, nil
}

// Ioctl issues cmd with arg and returns the bare errno, so that tests can
// send commands the driver does not know.
func (d *Device) Ioctl(cmd uint32, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), uintptr(cmd), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// Map maps length bytes of the buffer starting at offset, which must be a
// multiple of the page size. Release the mapping with Unmap.
func (d *Device) Map(offset int64, length, prot, flags int) ([]byte, error) {
	b, err := unix.Mmap(d.fd, offset, length, prot, flags)
	if err != nil {
		return nil, fmt.Errorf("mmap %s offset %d length %d: %w", DevicePath, offset, length, err)
	}
	return b, nil
}

// Unmap releases a mapping returned by Map.
func Unmap(b []byte) error {
	if err := unix.Munmap(b); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	return nil
}

// ReadAt is one pread(2): it may return fewer bytes than asked, and 0 at
// the end of the buffer.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(d.fd, p, off)
	if err != nil {
		return n, fmt.Errorf("pread %d bytes at %d: %w", len(p), off, err)
	}
	return n, nil
}

// WriteAt is one pwrite(2): it may store fewer bytes than asked.
func (d *Device) WriteAt(p []byte, off int64) (int, error) {
	n, err := unix.Pwrite(d.fd, p, off)
	if err != nil {
		return n, fmt.Errorf("pwrite %d bytes at %d: %w", len(p), off, err)
	}
	return n, nil
}

// Read is one read(2) at the file position.
func (d *Device) Read(p []byte) (int, error) {
	n, err := unix.Read(d.fd, p)
	if err != nil {
		return n, fmt.Errorf("read %d bytes: %w", len(p), err)
	}
	return n, nil
}

// Write is one write(2) at the file position.
func (d *Device) Write(p []byte) (int, error) {
	n, err := unix.Write(d.fd, p)
	if err != nil {
		return n, fmt.Errorf("write %d bytes: %w", len(p), err)
	}
	return n, nil
}

// Seek is one lseek(2).
func (d *Device) Seek(off int64, whence int) (int64, error) {
	pos, err := unix.Seek(d.fd, off, whence)
	if err != nil {
		return pos, fmt.Errorf("lseek %d whence %d: %w", off, whence, err)
	}
	return pos, nil
}
