// Package guestpkg is a Go test package in a module of its own, as a user's
// would be, for the tests layer of the image and the end-to-end boot test.
package guestpkg

import (
	"os"
	"syscall"
	"testing"
)

func TestReadsTestdata(t *testing.T) {
	b, err := os.ReadFile("testdata/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
}

func TestInGuest(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("not in a kmodvm guest")
	}
	if _, err := os.Stat(os.Getenv("KMODVM_CONFIG")); err != nil {
		t.Fatalf("run config: %v", err)
	}
}

// TestHang blocks in uninterruptible (killable) sleep, which the agent's
// blocked-task dump shows: a CLONE_VFORK parent waits for a child that
// never execs nor exits.
func TestHang(t *testing.T) {
	if os.Getenv("GUESTPKG_HANG") == "" {
		t.Skip("GUESTPKG_HANG unset")
	}
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, syscall.CLONE_VFORK|uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if pid == 0 {
		for {
			syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
		}
	}
}
