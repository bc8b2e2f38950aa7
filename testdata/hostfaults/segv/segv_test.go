// Package segv holds a guest test whose binary dies of a real segmentation
// fault, as a test calling into broken C code through cgo would: the kernel
// kills the process with SIGSEGV, and no Go panic is printed.
package segv

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func skipOutsideVM(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("runs in a kmodvm VM")
	}
}

// kernelSigaction is the kernel's struct sigaction on amd64 (not libc's).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// nowhere is nil, in a variable so that the compiler cannot see it.
var nowhere *int

func TestAPass(t *testing.T) { skipOutsideVM(t) }

// TestSegfault restores SIGSEGV's default action, which the Go runtime
// replaced with its own handler (that turns faults into panics), then
// writes through a nil pointer: the kernel kills the binary at once.
func TestSegfault(t *testing.T) {
	skipOutsideVM(t)
	var dfl kernelSigaction // SIG_DFL
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSEGV),
		uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); e != 0 {
		t.Fatalf("rt_sigaction: %v", e)
	}
	*nowhere = 1
	t.Error("still alive after writing through a nil pointer")
}

// TestZNeverRuns comes after the crash: its binary is gone by then.
func TestZNeverRuns(t *testing.T) { skipOutsideVM(t) }
