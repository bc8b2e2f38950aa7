// Package faultdemo is a guest test package that fails on purpose, in the
// ways a report must show: a kernel WARNING during a test, a leaked module
// reference, a user-space failure on some kernels only, a skip. It drives
// testdata/faultmod and exists to produce the report pictured in
// docs/report.md:
//
//	kmodvm run -m testdata/faultmod -t vmtest/report/testdata/faultdemo -k 6.1,7.3
package faultdemo

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kmodvm/kmodvm/guest/testenv"
)

// ioctl numbers from testdata/faultmod/faultmod.h.
const (
	faultmodWarn = 0x4601
	faultmodLeak = 0x4609
)

func ioctl(t *testing.T, req uintptr) {
	t.Helper()
	testenv.SkipIfNotVM(t)
	f, err := os.OpenFile("/dev/faultmod", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, 0); errno != 0 {
		t.Fatalf("ioctl %#x: %v", req, errno)
	}
}

func TestDeviceOpens(t *testing.T) {
	testenv.SkipIfNotVM(t)
	f, err := os.Open("/dev/faultmod")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestWarnIsCaught passes in user space; kmodvm fails it because the kernel
// logs a WARNING while it runs.
func TestWarnIsCaught(t *testing.T) { ioctl(t, faultmodWarn) }

// TestLeakedReference leaves a module reference behind: the unload after the
// last test fails and the report says so.
func TestLeakedReference(t *testing.T) { ioctl(t, faultmodLeak) }

// TestNewKernelsOnly fails in user space on kernels older than 7.
func TestNewKernelsOnly(t *testing.T) {
	testenv.SkipIfNotVM(t)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	for _, sub := range []string{"uname", "major"} {
		t.Run(sub, func(t *testing.T) {
			if sub == "major" && !strings.HasPrefix(release, "7.") {
				t.Errorf("release %s: this demo wants a 7.x kernel", release)
			}
		})
	}
}

func TestNeedsHardware(t *testing.T) {
	t.Skip("no such hardware in a VM")
}
