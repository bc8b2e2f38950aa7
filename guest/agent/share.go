package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The memory the host shares (qemu.Config.ShareMiB) is an ivshmem-plain
// PCI device; its BAR 2 is the memory. No driver binds it: the agent maps
// the BAR through sysfs, which needs only the device enabled.
const (
	ivshmemVendor = "0x1af4"
	ivshmemDevice = "0x1110"
	pciDevices    = "/sys/bus/pci/devices"
)

// sharedMemory is the host's shared memory, mapped read-only.
type sharedMemory struct {
	mem []byte
}

// openShare finds and maps the shared memory.
func openShare() (*sharedMemory, error) {
	devs, err := os.ReadDir(pciDevices)
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	for _, d := range devs {
		dir := filepath.Join(pciDevices, d.Name())
		if readTrim(filepath.Join(dir, "vendor")) != ivshmemVendor || readTrim(filepath.Join(dir, "device")) != ivshmemDevice {
			continue
		}
		if err := writeFile(filepath.Join(dir, "enable"), "1"); err != nil {
			return nil, fmt.Errorf("shared memory: enable %s: %w", d.Name(), err)
		}
		return mapResource(filepath.Join(dir, "resource2"))
	}
	return nil, errors.New("shared memory: no ivshmem device (the VM has no Config.ShareMiB)")
}

func mapResource(path string) (*sharedMemory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared memory: mmap %s: %w", path, err)
	}
	return &sharedMemory{mem: mem}, nil
}

func (s *sharedMemory) Close() error { return unix.Munmap(s.mem) }

// unpack extracts the newc archive(s) of size bytes at off into root.
func (s *sharedMemory) unpack(off, size int64, root string) error {
	if off < 0 || size < 0 || off+size > int64(len(s.mem)) {
		return fmt.Errorf("unpack: %d bytes at %d outside the %d shared bytes", size, off, len(s.mem))
	}
	// In place: the files are written before the command is answered,
	// after which the host may reuse the memory. A copy first cost 20-130
	// ms more per restore under TCG (3 MB of the bundled suite's layers).
	return extractCpio(s.mem[off:off+size], root)
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// newc header: magic and 13 fields of 8 hex digits.
const (
	newcMagic  = "070701"
	newcHeader = 110
)

// extractCpio writes the entries of concatenated newc archives (as
// initramfs layers are) under root: directories, regular files and
// symbolic links, with their permission bits. Later entries replace
// earlier ones, as the kernel's own unpacking does.
func extractCpio(b []byte, root string) error {
	for len(b) > 0 {
		if b[0] == 0 { // padding between archives
			b = b[1:]
			continue
		}
		if len(b) < newcHeader || string(b[:6]) != newcMagic {
			return errors.New("unpack: not a newc archive")
		}
		field := func(i int) (int, error) {
			v, err := strconv.ParseUint(string(b[6+8*i:14+8*i]), 16, 32)
			return int(v), err
		}
		mode, err1 := field(1)
		fileSize, err2 := field(6)
		nameSize, err3 := field(11)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("unpack: bad header: %w", err)
		}
		nameEnd := newcHeader + nameSize
		dataStart := align4(nameEnd)
		dataEnd := dataStart + fileSize
		if nameSize < 1 || dataEnd > len(b) {
			return errors.New("unpack: archive cut short")
		}
		name := string(b[newcHeader : nameEnd-1])
		data := b[dataStart:dataEnd]
		b = b[min(align4(dataEnd), len(b)):]
		if name == "TRAILER!!!" {
			continue
		}
		if err := writeEntry(root, name, uint32(mode), data); err != nil {
			return fmt.Errorf("unpack %s: %w", name, err)
		}
	}
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }

func writeEntry(root, name string, mode uint32, data []byte) error {
	clean := filepath.Clean("/" + name)
	if clean == "/" {
		return nil
	}
	path := filepath.Join(root, clean)
	perm := os.FileMode(mode & 0o7777)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := os.MkdirAll(path, perm); err != nil {
			return err
		}
		return os.Chmod(path, perm)
	case unix.S_IFLNK:
		os.Remove(path)
		return os.Symlink(string(data), path)
	case unix.S_IFREG:
		os.Remove(path) // a running binary's file cannot be opened for writing
		if err := os.WriteFile(path, data, perm); err != nil {
			return err
		}
		return os.Chmod(path, perm) // past the umask
	}
	return nil // devices and the like: the guest's devtmpfs has them
}
