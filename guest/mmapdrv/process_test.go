package mmapdrv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// helperEnv, when set, makes the test binary act as the second process of
// TestSecondProcessSeesWrites instead of running tests.
const (
	helperEnv     = "MMAPDRV_TEST_HELPER"
	helperSeedEnv = "MMAPDRV_TEST_SEED"
)

// runHelper maps the device, checks that the first half holds pattern(seed)
// and stores pattern(seed+1) over the second half through the mapping.
func runHelper() int {
	seed, err := strconv.ParseUint(os.Getenv(helperSeedEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	d, err := Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	size, err := d.Size()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	m, err := d.Map(0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	half := size / 2
	if want := pattern(seed, half); !bytes.Equal(m[:half], want) {
		fmt.Fprintln(os.Stderr, "helper: first half:", firstDiff(m[:half], want))
		return 2
	}
	copy(m[half:], pattern(seed+1, size-half))
	return 0
}

func TestSecondProcessSeesWrites(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	m := mapped(t, d, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	const seed = 20
	half := size / 2
	copy(m, pattern(seed, half))
	clear(m[half:])

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperSeedEnv+"="+strconv.Itoa(seed))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	want := pattern(seed+1, size-half)
	if !bytes.Equal(m[half:], want) {
		t.Errorf("mapping after the second process wrote: %s", firstDiff(m[half:], want))
	}
	if got := contents(t, d)[half:]; !bytes.Equal(got, want) {
		t.Errorf("read() after the second process wrote: %s", firstDiff(got, want))
	}
}

// forkTouch forks; the child checks that the n bytes at p all hold want,
// stores put over them and exits 0 if the check passed, 1 if not. It uses
// a bare clone instead of os/exec because the child must inherit the
// parent's mappings: it runs no Go runtime code (nosplit, no allocation, no
// calls but raw system calls), the same discipline as syscall.forkExec.
//
//go:nosplit
//go:norace
func forkTouch(p unsafe.Pointer, n uintptr, want, put byte) (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, cloneArg0, cloneArg1, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return int(pid), errno
	}
	code := uintptr(0)
	for i := uintptr(0); i < n; i++ {
		b := (*byte)(unsafe.Add(p, i))
		if *b != want {
			code = 1
		}
		*b = put
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, code, 0, 0)
	}
}

func waitChild(t *testing.T, pid int) {
	t.Helper()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait for child %d: %v", pid, err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("child %d: status %#x: it did not see the parent's data", pid, ws)
	}
}

func TestForkChildSharesMapping(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	shared := mapped(t, d, 0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	priv := mapped(t, d, 0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	for i := range shared {
		shared[i] = 'p'
	}
	// Copy the private page now, so the child inherits a private copy.
	for i := range priv {
		priv[i] = 'q'
	}

	pid, errno := forkTouch(unsafe.Pointer(&shared[0]), uintptr(len(shared)), 'p', 'c')
	if errno != 0 {
		t.Fatalf("fork: %v", errno)
	}
	waitChild(t, pid)
	if !bytes.Equal(shared, bytes.Repeat([]byte{'c'}, len(shared))) {
		t.Error("parent's shared mapping does not show the child's stores")
	}
	// read() ends at the buffer's size, inside the page on 64 KiB pages.
	got := make([]byte, min(devSize(t, d), pageSize))
	if _, err := d.ReadAt(got, 0); err != nil || !bytes.Equal(got, shared[:len(got)]) {
		t.Errorf("read() does not show the child's stores (%v)", err)
	}

	pid, errno = forkTouch(unsafe.Pointer(&priv[0]), uintptr(len(priv)), 'q', 'z')
	if errno != 0 {
		t.Fatalf("fork: %v", errno)
	}
	waitChild(t, pid)
	if !bytes.Equal(priv, bytes.Repeat([]byte{'q'}, len(priv))) {
		t.Error("the child's stores to its private copy reached the parent")
	}
}
