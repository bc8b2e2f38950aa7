package mmapdrv

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMmapRejectsBadArguments(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	mappable := pageAlign(devSize(t, d))
	for _, tc := range []struct {
		name   string
		off    int64
		length int64
		want   []unix.Errno
	}{
		{"length past the buffer", 0, mappable + pageSize, []unix.Errno{unix.EINVAL}},
		{"offset at the end", mappable, pageSize, []unix.Errno{unix.EINVAL}},
		{"offset after the end", mappable + pageSize, pageSize, []unix.Errno{unix.EINVAL}},
		{"offset plus length past the end", pageSize, mappable, []unix.Errno{unix.EINVAL}},
		{"last page plus one", mappable - pageSize, 2 * pageSize, []unix.Errno{unix.EINVAL}},
		{"offset not page aligned", 1, pageSize, []unix.Errno{unix.EINVAL}},
		{"zero length", 0, 0, []unix.Errno{unix.EINVAL}},
		// The kernel's offset overflow checks may answer before the driver.
		{"negative offset", -pageSize, pageSize, []unix.Errno{unix.EINVAL, unix.EOVERFLOW}},
		{"huge offset", 1 << 62, pageSize, []unix.Errno{unix.EINVAL, unix.EOVERFLOW}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := d.Map(tc.off, int(tc.length), unix.PROT_READ, unix.MAP_SHARED)
			if err == nil {
				Unmap(b)
			}
			expectErrno(t, fmt.Sprintf("mmap offset %d length %d", tc.off, tc.length), err, tc.want...)
		})
	}
	// The largest valid mappings on either side of those limits.
	for _, r := range [][2]int64{{0, mappable}, {mappable - pageSize, pageSize}} {
		b, err := d.Map(r[0], int(r[1]), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			t.Errorf("valid mapping offset %d length %d: %v", r[0], r[1], err)
			continue
		}
		Unmap(b)
	}
}

// Every (page offset, page count) mapping shows exactly the bytes at that
// offset; bytes of the last page past the size read as zero padding.
func TestPartialMapsMatchOffsets(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	if err := d.Clear(); err != nil {
		t.Fatal(err)
	}
	want := pattern(10, size)
	fill(t, d, want)
	want = append(want, make([]byte, pageAlign(size)-size)...)
	npages := pageAlign(size) / pageSize
	for first := int64(0); first < npages; first++ {
		for count := int64(1); first+count <= npages; count++ {
			off, length := first*pageSize, count*pageSize
			b, err := d.Map(off, int(length), unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				t.Fatalf("map pages [%d,%d): %v", first, first+count, err)
			}
			if !bytes.Equal(b, want[off:off+length]) {
				t.Errorf("map pages [%d,%d): %s", first, first+count, firstDiff(b, want[off:off+length]))
			}
			Unmap(b)
		}
	}
}

func TestMmapAccessModes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		open  int
		prot  int
		flags int
		want  unix.Errno // 0: the mapping succeeds
	}{
		{"read-only fd, shared writable", unix.O_RDONLY, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED, unix.EACCES},
		{"read-only fd, shared read-only", unix.O_RDONLY, unix.PROT_READ, unix.MAP_SHARED, 0},
		{"read-only fd, private writable", unix.O_RDONLY, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE, 0},
		{"write-only fd, shared", unix.O_WRONLY, unix.PROT_WRITE, unix.MAP_SHARED, unix.EACCES},
		{"read-write fd, shared writable", unix.O_RDWR, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDev(t, tc.open)
			b, err := d.Map(0, int(pageSize), tc.prot, tc.flags)
			if err == nil {
				Unmap(b)
			}
			if tc.want != 0 {
				expectErrno(t, "mmap", err, tc.want)
			} else if err != nil {
				t.Errorf("mmap: %v", err)
			}
		})
	}
}

func TestReadOnlySharedMapCannotBecomeWritable(t *testing.T) {
	d := openDev(t, unix.O_RDONLY)
	b := mapped(t, d, 0, int(pageSize), unix.PROT_READ, unix.MAP_SHARED)
	expectErrno(t, "mprotect PROT_WRITE", unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE), unix.EACCES)
}

func TestWriteThroughReadOnlyMapFaults(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	want := pattern(11, devSize(t, d))
	fill(t, d, want)
	b := mapped(t, d, 0, int(pageSize), unix.PROT_READ, unix.MAP_SHARED)
	if err := storeMayFault(b, 0, ^want[0]); err == nil {
		t.Fatal("a store through a PROT_READ mapping did not fault")
	}
	if got := contents(t, d); !bytes.Equal(got, want) {
		t.Errorf("faulting store changed the buffer: %s", firstDiff(got, want))
	}
}

// loadMayFault loads b[i] and turns a memory fault (SIGSEGV or SIGBUS) into
// an error.
func loadMayFault(b []byte, i int) (v byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault: %v", r)
		}
	}()
	return b[i], nil
}

// storeMayFault stores v at b[i] and turns a memory fault into an error.
func storeMayFault(b []byte, i int, v byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault: %v", r)
		}
	}()
	b[i] = v
	return nil
}

func TestPrivateMapIsCopyOnWrite(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	fill(t, d, bytes.Repeat([]byte{'A'}, int(size)))
	priv := mapped(t, d, 0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	shared := mapped(t, d, 0, int(pageSize), unix.PROT_READ, unix.MAP_SHARED)

	// Until the process writes to it, a private page shows the device.
	if priv[0] != 'A' {
		t.Fatalf("private mapping reads %q, want 'A'", priv[0])
	}
	d.WriteAt([]byte{'B'}, 0)
	if priv[0] != 'B' {
		t.Errorf("untouched private page reads %q after write(), want 'B'", priv[0])
	}

	// The first store copies the page; neither side sees the other after.
	priv[1] = 'P'
	got := make([]byte, 2)
	d.ReadAt(got, 0)
	if string(got) != "BA" || shared[1] != 'A' {
		t.Errorf("device reads %q, shared mapping %q: a private store leaked", got, shared[1])
	}
	d.WriteAt([]byte{'C'}, 0)
	if string(priv[:2]) != "BP" {
		t.Errorf("copied private page reads %q, want \"BP\"", priv[:2])
	}
}

func TestMremapCannotGrow(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	if devSize(t, d) < 2*pageSize {
		t.Skip("needs a buffer of at least two pages")
	}
	b, err := d.Map(0, int(2*pageSize), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	// VM_DONTEXPAND refuses growth with EFAULT, moving or not.
	for _, flags := range []int{0, unix.MREMAP_MAYMOVE} {
		nb, err := unix.Mremap(b, int(3*pageSize), flags)
		if err == nil {
			b = nb
			t.Errorf("mremap growth (flags %d) succeeded", flags)
			continue
		}
		expectErrno(t, fmt.Sprintf("mremap growth (flags %d)", flags), err, unix.EFAULT)
	}
	small, err := unix.Mremap(b, int(pageSize), 0)
	if err != nil {
		t.Errorf("mremap shrink: %v", err)
		small = b
	}
	Unmap(small)
}

func TestMadviseDontNeed(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	want := pattern(12, size)
	fill(t, d, want)

	// Shared: the data lives in the driver, so dropping the PTEs loses
	// nothing and the next access faults the same page back in.
	shared := mapped(t, d, 0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	shared[0] = ^want[0]
	before, _ := d.Stats()
	if err := unix.Madvise(shared, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	// remap_vmalloc_range() mappings raise SIGBUS here: no .fault handler.
	if v, err := loadMayFault(shared, 0); err != nil {
		t.Fatalf("access after MADV_DONTNEED: %v", err)
	} else if n := min(size, pageSize); v != ^want[0] || !bytes.Equal(shared[1:n], want[1:n]) {
		t.Error("shared mapping lost data across MADV_DONTNEED")
	}
	if after, _ := d.Stats(); after.Faults <= before.Faults {
		t.Error("access after MADV_DONTNEED did not fault the page back in")
	}

	// Private: MADV_DONTNEED drops the process's copy; the device's
	// current contents show through again.
	priv := mapped(t, d, 0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	priv[0] = 0x5a
	if err := unix.Madvise(priv, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if priv[0] != ^want[0] {
		t.Errorf("private page after MADV_DONTNEED reads %#x, want the device's %#x", priv[0], ^want[0])
	}
}
