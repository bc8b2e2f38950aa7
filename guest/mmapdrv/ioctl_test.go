package mmapdrv

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

// uapiDir holds the driver's uapi header, relative to this package.
const uapiDir = "../../kmod/include/uapi"

func TestIoctlNumbersMatchCHeader(t *testing.T) {
	if testenv.InVM() {
		t.Skip("host-only: compiles the kmod/ uapi header with the host C compiler")
	}
	cc := ""
	for _, name := range []string{"cc", "gcc", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		t.Skip("no C compiler (cc, gcc or clang) on PATH: cannot check the Go ioctl numbers against the C header")
	}
	bin := filepath.Join(t.TempDir(), "ioctl_numbers")
	out, err := exec.Command(cc, "-Wall", "-Werror", "-I", uapiDir, "-o", bin, "testdata/ioctl_numbers.c").CombinedOutput()
	if err != nil {
		t.Fatalf("compile testdata/ioctl_numbers.c: %v\n%s", err, out)
	}
	out, err = exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	got := parseNumbers(t, out)

	var st Stats
	want := map[string]uint64{
		"magic":        Magic,
		"get_size":     uint64(IoctlGetSize),
		"clear":        uint64(IoctlClear),
		"get_stats":    uint64(IoctlGetStats),
		"max_bufsize":  MaxBufSize,
		"sizeof_stats": uint64(unsafe.Sizeof(st)),
		"off_reads":    uint64(unsafe.Offsetof(st.Reads)),
		"off_writes":   uint64(unsafe.Offsetof(st.Writes)),
		"off_mmaps":    uint64(unsafe.Offsetof(st.Mmaps)),
		"off_faults":   uint64(unsafe.Offsetof(st.Faults)),
		"off_clears":   uint64(unsafe.Offsetof(st.Clears)),
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: not printed by the C program", name)
			continue
		}
		if g != w {
			t.Errorf("%s: C header says %#x, Go says %#x", name, g, w)
		}
	}
}

func parseNumbers(t *testing.T, out []byte) map[string]uint64 {
	t.Helper()
	m := make(map[string]uint64)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("bad line %q", sc.Text())
		}
		v, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", sc.Text(), err)
		}
		m[name] = v
	}
	return m
}

// The expected numbers are what Linux's own headers give for well-known
// ioctls on the architecture the test runs on (x/sys/unix's constants are
// generated from them for each), so the encoder is checked against more
// than this driver.
func TestIoctlEncoding(t *testing.T) {
	long := uint32(unsafe.Sizeof(uintptr(0)))
	for _, tc := range []struct {
		name string
		cmd  IoctlCmd
		want uint32
	}{
		{"FS_IOC_GETFLAGS _IOR('f', 1, long)", IoctlCmd{Dir: iocRead, Type: 'f', NR: 1, Size: long}, unix.FS_IOC_GETFLAGS},
		{"FS_IOC_GET_ENCRYPTION_POLICY_EX _IOWR('f', 22, __u8[9])", IoctlCmd{Dir: iocRead | iocWrite, Type: 'f', NR: 22, Size: 9}, unix.FS_IOC_GET_ENCRYPTION_POLICY_EX},
		{"BLKFLSBUF _IO(0x12, 97)", IoctlCmd{Dir: iocNone, Type: 0x12, NR: 97}, unix.BLKFLSBUF},
		{"RNDADDTOENTCNT _IOW('R', 1, int)", IoctlCmd{Dir: iocWrite, Type: 'R', NR: 1, Size: 4}, unix.RNDADDTOENTCNT},
		{"MMAPDRV_IOC_GET_SIZE", IoctlCmd{Dir: iocRead, Type: Magic, NR: 1, Size: 8}, IoctlGetSize},
		{"MMAPDRV_IOC_CLEAR", IoctlCmd{Dir: iocNone, Type: Magic, NR: 2}, IoctlClear},
		{"MMAPDRV_IOC_GET_STATS", IoctlCmd{Dir: iocRead, Type: Magic, NR: 3, Size: 40}, IoctlGetStats},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cmd.Encode(); got != tc.want {
				t.Errorf("Encode() = %#x, want %#x", got, tc.want)
			}
			if got := DecodeIoctl(tc.want); got != tc.cmd {
				t.Errorf("DecodeIoctl(%#x) = %+v, want %+v", tc.want, got, tc.cmd)
			}
		})
	}
}
