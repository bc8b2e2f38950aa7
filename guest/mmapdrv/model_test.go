package mmapdrv

import (
	"math/bits"
	"testing"

	"golang.org/x/sys/unix"
)

// bufModel is the driver's documented behaviour, written independently of
// it: a file of size bytes backed by whole pages of memory, of which mmap()
// reaches all and read()/write()/lseek() only the first size bytes. It also
// models the checks the VFS and mm make before the driver is called, so that
// every outcome of a system call is predicted exactly.
type bufModel struct {
	size     int64
	pageSize int64
	data     []byte // whole pages; data[size:] is padding only mappings reach
	// longBits is the width of the guest's unsigned long, in which the
	// kernel takes an mapping's page offset: the test binary's uint.
	longBits int

	// Counters the driver reports in Stats.
	reads, writes, mmaps, clears uint64
}

// fdModel is one open descriptor of the device.
type fdModel struct {
	pos                int64
	readable, writable bool
}

func newModel(size, pageSize int64) *bufModel {
	pages := (size + pageSize - 1) / pageSize
	return &bufModel{size: size, pageSize: pageSize, data: make([]byte, pages*pageSize), longBits: bits.UintSize}
}

// checkIO mirrors the checks before the driver's read or write: pread and
// pwrite refuse a negative offset first, then vfs_read/vfs_write the access
// mode, then rw_verify_area a range that overflows loff_t.
func checkIO(off int64, n int, allowed bool) unix.Errno {
	switch {
	case off < 0:
		return unix.EINVAL
	case !allowed:
		return unix.EBADF
	case off+int64(n) < 0:
		return unix.EINVAL
	}
	return 0
}

// read predicts pread(n bytes at off): the count, or an errno. The bytes
// read are m.data[off:off+count].
func (m *bufModel) read(f *fdModel, n int, off int64) (int, unix.Errno) {
	if e := checkIO(off, n, f.readable); e != 0 {
		return 0, e
	}
	if n == 0 || off >= m.size {
		return 0, 0
	}
	got := int(min(int64(n), m.size-off))
	m.reads++
	return got, 0
}

// write predicts pwrite(p at off) and applies it.
func (m *bufModel) write(f *fdModel, p []byte, off int64) (int, unix.Errno) {
	if e := checkIO(off, len(p), f.writable); e != 0 {
		return 0, e
	}
	if len(p) == 0 {
		return 0, 0
	}
	if off >= m.size {
		return 0, unix.ENOSPC
	}
	n := copy(m.data[off:m.size], p)
	m.writes++
	return n, 0
}

// seek predicts lseek(off, whence) as fixed_size_llseek does it.
func (m *bufModel) seek(f *fdModel, off int64, whence int) (int64, unix.Errno) {
	var pos int64
	switch whence {
	case unix.SEEK_SET:
		pos = off
	case unix.SEEK_CUR:
		if off == 0 {
			return f.pos, 0
		}
		pos = f.pos + off
	case unix.SEEK_END:
		pos = m.size + off
	default:
		return 0, unix.EINVAL
	}
	if pos < 0 || pos > m.size {
		return 0, unix.EINVAL
	}
	f.pos = pos
	return pos, 0
}

// mmap predicts the errno of mmap(length at off) with prot and flags, in the
// order the kernel checks: arguments, offset overflow, access mode, then
// the driver's range check.
func (m *bufModel) mmap(f *fdModel, off int64, length, prot, flags int) unix.Errno {
	page := uint64(m.pageSize)
	if length <= 0 || uint64(off)%page != 0 {
		return unix.EINVAL
	}
	// A 64-bit guest's mmap passes the offset, which the kernel shifts
	// into an unsigned long page offset (a negative one is a huge one);
	// a 32-bit guest's passes a page number (mmap2), and x/sys/unix
	// refuses an offset that gives no unsigned long one.
	ulongMax := ^uint64(0) >> (64 - m.longBits)
	pgoff := uint64(off) / page
	if m.longBits < 64 && (off < 0 || pgoff > ulongMax) {
		return unix.EINVAL
	}
	pages := (uint64(length) + page - 1) / page
	if pgoff+pages > ulongMax || pgoff+pages < pgoff {
		return unix.EOVERFLOW
	}
	// file_mmap_size_max() is ULONG_MAX for a character device.
	if pgoff > (ulongMax-pages*page)/page {
		return unix.EOVERFLOW
	}
	if flags&unix.MAP_SHARED != 0 && prot&unix.PROT_WRITE != 0 && !f.writable {
		return unix.EACCES
	}
	if !f.readable {
		return unix.EACCES
	}
	npages := uint64(len(m.data)) / page
	if pgoff >= npages || pages > npages-pgoff {
		return unix.EINVAL
	}
	m.mmaps++
	return 0
}

// clear predicts MMAPDRV_IOC_CLEAR and applies it.
func (m *bufModel) clear(f *fdModel) unix.Errno {
	if !f.writable {
		return unix.EBADF
	}
	clear(m.data)
	m.clears++
	return 0
}

// The model is the specification the in-VM tests hold the driver to, so
// its own answers are pinned here, on the host.
func TestModelPredictsDocumentedSemantics(t *testing.T) {
	const size, page = 5000, 4096
	rw := func() *fdModel { return &fdModel{readable: true, writable: true} }
	ro := func() *fdModel { return &fdModel{readable: true} }
	wo := func() *fdModel { return &fdModel{writable: true} }
	for _, tc := range []struct {
		name  string
		op    func(m *bufModel) (int64, unix.Errno)
		n     int64
		errno unix.Errno
	}{
		{"read inside", func(m *bufModel) (int64, unix.Errno) { n, e := m.read(rw(), 100, 0); return int64(n), e }, 100, 0},
		{"read across end is short", func(m *bufModel) (int64, unix.Errno) { n, e := m.read(rw(), 100, size-10); return int64(n), e }, 10, 0},
		{"read at end is 0", func(m *bufModel) (int64, unix.Errno) { n, e := m.read(rw(), 1, size); return int64(n), e }, 0, 0},
		{"read past end is 0", func(m *bufModel) (int64, unix.Errno) { n, e := m.read(rw(), 1, size+page); return int64(n), e }, 0, 0},
		{"read negative", func(m *bufModel) (int64, unix.Errno) { n, e := m.read(rw(), 1, -1); return int64(n), e }, 0, unix.EINVAL},
		{"read write-only", func(m *bufModel) (int64, unix.Errno) { n, e := m.read(wo(), 1, 0); return int64(n), e }, 0, unix.EBADF},
		{"write across end is short", func(m *bufModel) (int64, unix.Errno) {
			n, e := m.write(rw(), make([]byte, 100), size-10)
			return int64(n), e
		}, 10, 0},
		{"write at end", func(m *bufModel) (int64, unix.Errno) { n, e := m.write(rw(), []byte{1}, size); return int64(n), e }, 0, unix.ENOSPC},
		{"empty write at end", func(m *bufModel) (int64, unix.Errno) { n, e := m.write(rw(), nil, size); return int64(n), e }, 0, 0},
		{"pwrite read-only at a negative offset", func(m *bufModel) (int64, unix.Errno) { n, e := m.write(ro(), []byte{1}, -1); return int64(n), e }, 0, unix.EINVAL},
		{"write read-only", func(m *bufModel) (int64, unix.Errno) { n, e := m.write(ro(), []byte{1}, 0); return int64(n), e }, 0, unix.EBADF},
		{"write overflowing loff_t", func(m *bufModel) (int64, unix.Errno) {
			n, e := m.write(rw(), []byte{1, 2}, 1<<63-1)
			return int64(n), e
		}, 0, unix.EINVAL},
		{"seek end", func(m *bufModel) (int64, unix.Errno) { return m.seek(rw(), 0, unix.SEEK_END) }, size, 0},
		{"seek past end", func(m *bufModel) (int64, unix.Errno) { return m.seek(rw(), size+1, unix.SEEK_SET) }, 0, unix.EINVAL},
		{"seek negative", func(m *bufModel) (int64, unix.Errno) { return m.seek(rw(), -1, unix.SEEK_CUR) }, 0, unix.EINVAL},
		{"map both pages", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(rw(), 0, 2*page, unix.PROT_READ, unix.MAP_SHARED)
		}, 0, 0},
		{"map three pages", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(rw(), 0, 3*page, unix.PROT_READ, unix.MAP_SHARED)
		}, 0, unix.EINVAL},
		{"map at end", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(rw(), 2*page, page, unix.PROT_READ, unix.MAP_SHARED)
		}, 0, unix.EINVAL},
		{"map unaligned", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(rw(), 1, page, unix.PROT_READ, unix.MAP_SHARED)
		}, 0, unix.EINVAL},
		{"map shared writable read-only", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(ro(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		}, 0, unix.EACCES},
		{"map private writable read-only", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(ro(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
		}, 0, 0},
		{"map write-only", func(m *bufModel) (int64, unix.Errno) {
			return 0, m.mmap(wo(), 0, page, unix.PROT_WRITE, unix.MAP_SHARED)
		}, 0, unix.EACCES},
		{"clear read-only", func(m *bufModel) (int64, unix.Errno) { return 0, m.clear(ro()) }, 0, unix.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, e := tc.op(newModel(size, page))
			if n != tc.n || e != tc.errno {
				t.Errorf("got (%d, %v), want (%d, %v)", n, e, tc.n, tc.errno)
			}
		})
	}
}

// A mapping's offset is an unsigned long page offset: what is out of its
// range depends on the guest's width.
func TestModelMapsOffsetsOfEachWidth(t *testing.T) {
	const size, page = 5000, 4096
	for _, tc := range []struct {
		name     string
		longBits int
		off      int64
		errno    unix.Errno
	}{
		{"negative on 64 bits overflows", 64, -page, unix.EOVERFLOW},
		{"negative on 32 bits is no page number", 32, -page, unix.EINVAL},
		{"past 16 TiB on 32 bits is no page number", 32, 1 << 44, unix.EINVAL},
		{"the last page number on 32 bits overflows", 32, (1<<32 - 1) * page, unix.EOVERFLOW},
		{"past ULONG_MAX on 32 bits overflows", 32, 1 << 32, unix.EOVERFLOW},
		{"past ULONG_MAX on 64 bits is past the buffer", 64, 1 << 32, unix.EINVAL},
		{"inside on 32 bits", 32, page, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(size, page)
			m.longBits = tc.longBits
			if e := m.mmap(&fdModel{readable: true}, tc.off, page, unix.PROT_READ, unix.MAP_SHARED); e != tc.errno {
				t.Errorf("mmap at %d = %v, want %v", tc.off, e, tc.errno)
			}
		})
	}
}

func TestModelWriteThenRead(t *testing.T) {
	m := newModel(5000, 4096)
	f := &fdModel{readable: true, writable: true}
	if n, e := m.write(f, []byte("abcdef"), 4997); n != 3 || e != 0 {
		t.Fatalf("write = (%d, %v), want (3, 0)", n, e)
	}
	if got := string(m.data[4995:5000]); got != "\x00\x00abc" {
		t.Errorf("data = %q, want the first 3 bytes stored at 4997", got)
	}
	if m.data[5000] != 0 {
		t.Error("a write reached the padding past size")
	}
	if m.clear(f); m.data[4997] != 0 || m.clears != 1 || m.writes != 1 {
		t.Errorf("after clear: byte %d, clears %d, writes %d", m.data[4997], m.clears, m.writes)
	}
}
