package mmapdrv

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

func TestSizeMatchesModuleParam(t *testing.T) {
	d := openDev(t, unix.O_RDONLY)
	want, err := strconv.ParseInt(sysParam(t, "bufsize"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The value in hex too: one written at the wrong width shows as its
	// bytes moved, not as some other size.
	got, err := d.Size()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Size() = %d (%#x), want bufsize %d (%#x)", got, got, want, want)
	}
}

func TestUnknownIoctlIsENOTTY(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	var arg [64]byte
	for _, cmd := range []IoctlCmd{
		{Dir: iocNone, Type: Magic, NR: 0},
		{Dir: iocNone, Type: Magic, NR: 4},
		{Dir: iocRead | iocWrite, Type: Magic, NR: 0xff, Size: 8},
		{Dir: iocWrite, Type: Magic, NR: 1, Size: 8}, // get-size with the wrong direction
		{Dir: iocRead, Type: Magic, NR: 1, Size: 4},  // get-size with the wrong size
		{Dir: iocRead, Type: Magic, NR: 3, Size: 32}, // stats with an older struct size
		{Dir: iocRead, Type: 0xB8, NR: 1, Size: 8},   // a neighbour's magic
	} {
		err := d.Ioctl(cmd.Encode(), unsafe.Pointer(&arg))
		expectErrno(t, fmt.Sprintf("ioctl %#x (%+v)", cmd.Encode(), cmd), err, unix.ENOTTY)
	}
}

func TestClearZeroesBuffer(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	m := mapped(t, d, 0, int(pageAlign(size)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	fill(t, d, pattern(1, size))
	m[len(m)-1] = 0xff // padding too, when size is not page aligned
	if err := d.Clear(); err != nil {
		t.Fatal(err)
	}
	if !isZero(contents(t, d)) {
		t.Error("read() after Clear is not all zero")
	}
	if !isZero(m) {
		t.Error("mapping after Clear is not all zero")
	}
}

func TestClearNeedsWriteAccess(t *testing.T) {
	rw := openDev(t, unix.O_RDWR)
	want := pattern(2, devSize(t, rw))
	fill(t, rw, want)
	ro := openDev(t, unix.O_RDONLY)
	expectErrno(t, "Clear on an O_RDONLY descriptor", ro.Clear(), unix.EBADF)
	if got := contents(t, rw); !bytes.Equal(got, want) {
		t.Errorf("refused Clear changed the buffer: %s", firstDiff(got, want))
	}
}

func TestMapWriteShowsInRead(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	m := mapped(t, d, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	want := pattern(3, size)
	copy(m, want)
	if got := contents(t, d); !bytes.Equal(got, want) {
		t.Errorf("read() differs from what was stored through the mapping: %s", firstDiff(got, want))
	}
}

func TestWriteShowsInMap(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	m := mapped(t, d, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	want := pattern(4, size)
	fill(t, d, want)
	if !bytes.Equal(m, want) {
		t.Errorf("mapping differs from what write() stored: %s", firstDiff(m, want))
	}
}

func TestDataPersistsAcrossCloseAndOpen(t *testing.T) {
	testenv.SkipIfNotVM(t)
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(5, devSize(t, d))
	fill(t, d, want)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, openDev(t, unix.O_RDONLY)); !bytes.Equal(got, want) {
		t.Errorf("data changed across close/open: %s", firstDiff(got, want))
	}
}

func TestPreadPwriteBoundaries(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	for _, tc := range []struct {
		name  string
		write bool
		off   int64
		len   int
		n     int
		errno unix.Errno
	}{
		{"read first byte", false, 0, 1, 1, 0},
		{"read last byte", false, size - 1, 1, 1, 0},
		{"read across the end is short", false, size - 10, 100, 10, 0},
		{"read at the end is EOF", false, size, 1, 0, 0},
		{"read past the end is EOF", false, size + pageSize, 1, 0, 0},
		{"read nothing", false, 0, 0, 0, 0},
		{"read at a negative offset", false, -1, 1, 0, unix.EINVAL},
		{"write last byte", true, size - 1, 1, 1, 0},
		{"write across the end is short", true, size - 10, 100, 10, 0},
		{"write at the end", true, size, 1, 0, unix.ENOSPC},
		{"write past the end", true, size + pageSize, 1, 0, unix.ENOSPC},
		{"write nothing at the end", true, size, 0, 0, 0},
		{"write at a negative offset", true, -1, 1, 0, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := pattern(6, size)
			fill(t, d, before)
			p := pattern(7, int64(tc.len))
			var n int
			var err error
			if tc.write {
				n, err = d.WriteAt(p, tc.off)
			} else {
				n, err = d.ReadAt(p, tc.off)
			}
			if tc.errno != 0 {
				expectErrno(t, tc.name, err, tc.errno)
			} else if err != nil || n != tc.n {
				t.Fatalf("got (%d, %v), want %d bytes", n, err, tc.n)
			}
			want := before
			if tc.write && tc.errno == 0 {
				want = slices.Clone(before)
				copy(want[tc.off:tc.off+int64(tc.n)], p)
			} else if !tc.write && n > 0 && !bytes.Equal(p[:n], before[tc.off:tc.off+int64(n)]) {
				t.Error("pread returned the wrong bytes")
			}
			if got := contents(t, d); !bytes.Equal(got, want) {
				t.Errorf("buffer after the call: %s", firstDiff(got, want))
			}
		})
	}
}

func TestSequentialReadEndsWithEOF(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	want := pattern(8, size)
	fill(t, d, want)
	var got []byte
	buf := make([]byte, 3000) // not a divisor of the size: the last read is short
	for range size/3000 + 2 {
		n, err := d.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("sequential reads: %s", firstDiff(got, want))
	}
	if n, err := d.Read(buf); n != 0 || err != nil {
		t.Errorf("read at EOF = (%d, %v), want (0, nil)", n, err)
	}
}

func TestSeek(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	for _, tc := range []struct {
		name   string
		start  int64 // position before the call
		off    int64
		whence int
		want   int64 // -1: EINVAL, position unchanged
	}{
		{"set start", 7, 0, unix.SEEK_SET, 0},
		{"set end", 0, size, unix.SEEK_SET, size},
		{"set past end", 7, size + 1, unix.SEEK_SET, -1},
		{"set negative", 7, -1, unix.SEEK_SET, -1},
		{"end", 0, 0, unix.SEEK_END, size},
		{"end minus one", 0, -1, unix.SEEK_END, size - 1},
		{"end plus one", 7, 1, unix.SEEK_END, -1},
		{"end before start", 7, -size - 1, unix.SEEK_END, -1},
		{"cur forward", 7, 10, unix.SEEK_CUR, 17},
		{"cur back", 7, -7, unix.SEEK_CUR, 0},
		{"cur before start", 7, -8, unix.SEEK_CUR, -1},
		{"cur past end", size - 1, 2, unix.SEEK_CUR, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.Seek(tc.start, unix.SEEK_SET); err != nil {
				t.Fatal(err)
			}
			got, err := d.Seek(tc.off, tc.whence)
			if tc.want < 0 {
				expectErrno(t, tc.name, err, unix.EINVAL)
				if pos, _ := d.Seek(0, unix.SEEK_CUR); pos != tc.start {
					t.Errorf("failed seek moved the position to %d, want %d", pos, tc.start)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got (%d, %v), want %d", got, err, tc.want)
			}
		})
	}
}

func TestWriteAtPositionStopsAtEnd(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	if _, err := d.Seek(size-3, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Write([]byte("0123456789")); n != 3 || err != nil {
		t.Errorf("write across the end = (%d, %v), want 3 bytes", n, err)
	}
	if pos, _ := d.Seek(0, unix.SEEK_CUR); pos != size {
		t.Errorf("position after the short write = %d, want %d", pos, size)
	}
	_, err := d.Write([]byte("x"))
	expectErrno(t, "write at the end", err, unix.ENOSPC)
	got := make([]byte, 3)
	if _, err := d.ReadAt(got, size-3); err != nil || string(got) != "012" {
		t.Errorf("tail = %q, %v; want \"012\"", got, err)
	}
}

func TestStatsCount(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	before, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	d.ReadAt(buf, 0)
	d.ReadAt(buf, size) // EOF: not counted
	d.WriteAt(buf, 0)
	d.WriteAt(buf, size) // ENOSPC: not counted
	d.Clear()
	// The mappable pages, not size's: a buffer smaller than one page
	// (40 KiB on 64 KiB pages) still maps that page.
	pages := min(pageAlign(size)/pageSize, 3)
	m := mapped(t, d, 0, int(pages*pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	for i := int64(0); i < pages; i++ {
		m[i*pageSize] = 1 // one write fault per page
	}
	after, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Reads: 1, Writes: 1, Clears: 1, Mmaps: 1, Faults: uint64(pages)}
	got := Stats{after.Reads - before.Reads, after.Writes - before.Writes, after.Mmaps - before.Mmaps,
		after.Faults - before.Faults, after.Clears - before.Clears}
	if got != want {
		t.Errorf("counter deltas = %+v, want %+v", got, want)
	}
}

// The lecture's kernel log line, which is rate limited so that a reader in
// a loop cannot flood the log. The limit's state lives in the module, so a
// reload gives the test a fresh burst.
func TestReadLogsLectureLine(t *testing.T) {
	testenv.SkipIfNotVM(t)
	mod, err := testenv.Module(ModuleName)
	if err != nil {
		t.Fatal(err)
	}
	testenv.ReloadModule(t, ModuleName, mod.Params)
	d := openDev(t, unix.O_RDONLY)
	size := devSize(t, d)
	k, err := testenv.OpenKmsg()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	buf := make([]byte, size)
	for range 100 {
		if _, err := d.Seek(0, unix.SEEK_SET); err != nil {
			t.Fatal(err)
		}
		if n, err := d.Read(buf); err != nil || int64(n) != size {
			t.Fatalf("read = (%d, %v)", n, err)
		}
	}
	lines, err := k.Lines()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("drv_read: read nbytes=%d done at pos=%d", size, size)
	var logged int
	for _, l := range lines {
		if strings.Contains(l, "drv_read:") {
			logged++
			if !strings.Contains(l, want) {
				t.Errorf("log line %q, want %q", l, want)
			}
		}
	}
	// DEFAULT_RATELIMIT_BURST is 10 lines per DEFAULT_RATELIMIT_INTERVAL.
	if logged == 0 || logged > 20 {
		t.Errorf("100 reads logged %d drv_read lines, want 1..20", logged)
	}
}
