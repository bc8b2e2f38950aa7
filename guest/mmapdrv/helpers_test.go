package mmapdrv

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

var pageSize = int64(os.Getpagesize())

func TestMain(m *testing.M) {
	// A test that needs a second process re-executes this binary with
	// helperEnv set; see runHelper.
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	os.Exit(m.Run())
}

// openDev skips t outside a kmodvm guest, opens the device with flags and
// closes it when t ends.
func openDev(t testing.TB, flags int) *Device {
	t.Helper()
	testenv.SkipIfNotVM(t)
	d, err := OpenFile(DevicePath, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// devSize is the buffer's size, which t's test allocates and maps: a size
// out of the driver's range (a GET_SIZE written at the wrong width reads
// as the size shifted by 32 bits on a big-endian machine) fails t here,
// before it allocates terabytes.
func devSize(t testing.TB, d *Device) int64 {
	t.Helper()
	size, err := d.Size()
	if err != nil {
		t.Fatal(err)
	}
	if size < 1 || size > MaxBufSize {
		t.Fatalf("Size() = %d (%#x): out of the driver's range 1..%d", size, size, MaxBufSize)
	}
	return size
}

// mapped maps the device and unmaps it when t ends.
func mapped(t testing.TB, d *Device, off int64, length, prot, flags int) []byte {
	t.Helper()
	b, err := d.Map(off, length, prot, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmap(b) })
	return b
}

func pageAlign(n int64) int64 { return (n + pageSize - 1) / pageSize * pageSize }

// pattern returns n bytes that differ with their position and seed, so that
// a misplaced page or byte shows.
func pattern(seed uint64, n int64) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 56)
	}
	return b
}

// fill writes p over the start of the buffer in one pwrite.
func fill(t testing.TB, d *Device, p []byte) {
	t.Helper()
	n, err := d.WriteAt(p, 0)
	if err != nil || n != len(p) {
		t.Fatalf("fill: wrote %d of %d bytes: %v", n, len(p), err)
	}
}

// contents reads the whole buffer in one pread.
func contents(t testing.TB, d *Device) []byte {
	t.Helper()
	b := make([]byte, devSize(t, d))
	n, err := d.ReadAt(b, 0)
	if err != nil || n != len(b) {
		t.Fatalf("contents: read %d of %d bytes: %v", n, len(b), err)
	}
	return b
}

// expectErrno fails t unless err carries one of want.
func expectErrno(t testing.TB, what string, err error, want ...unix.Errno) {
	t.Helper()
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Errorf("%s: got error %v, want %v", what, err, want)
}

// firstDiff describes where a and b first differ, for failure messages.
func firstDiff(a, b []byte) string {
	if len(a) != len(b) {
		return "lengths " + strconv.Itoa(len(a)) + " and " + strconv.Itoa(len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return "byte " + strconv.Itoa(i) + ": " + strconv.Itoa(int(a[i])) + " vs " + strconv.Itoa(int(b[i]))
		}
	}
	return "no difference"
}

func sysParam(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("/sys/module/" + ModuleName + "/parameters/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func isZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }
