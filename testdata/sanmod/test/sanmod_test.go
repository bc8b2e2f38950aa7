// Package test commits sanmod's deliberate bugs from Go tests in a kmodvm
// guest, one bug per test, so that each report a debug kernel prints is
// attributed to the test that caused it. On a stock kernel every test
// passes: what the kernel printed (or did not) is the result.
package test

import (
	"testing"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

// ioctl numbers from ../sanmod.h.
const (
	ioHeapOOB      = 0x5301
	ioUAF          = 0x5302
	ioVmallocOOB   = 0x5303
	ioLeakAtUnload = 0x5304
	ioLockAB       = 0x5305
	ioLockBA       = 0x5306
	ioSleepAtomic  = 0x5307
	ioRace         = 0x5308
	ioArrayOOB     = 0x5309
)

func device(t *testing.T) int {
	t.Helper()
	testenv.SkipIfNotVM(t)
	fd, err := unix.Open("/dev/sanmod", unix.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/sanmod: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func ioctl(t *testing.T, fd int, req, arg uintptr) uintptr {
	t.Helper()
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		t.Fatalf("ioctl %#x: %v", req, e)
	}
	return r
}

// KASAN: slab-out-of-bounds Write in sanmod_heap_oob (byte 24 of a
// 24-byte kmalloc object).
func TestHeapOutOfBounds(t *testing.T) { ioctl(t, device(t), ioHeapOOB, 24) }

// KASAN: use-after-free Read in sanmod_uaf.
func TestUseAfterFree(t *testing.T) { ioctl(t, device(t), ioUAF, 0) }

// KASAN: vmalloc-out-of-bounds Write in sanmod_vmalloc_oob (byte 1000 of
// a 1000-byte vmalloc area).
func TestVmallocOutOfBounds(t *testing.T) { ioctl(t, device(t), ioVmallocOOB, 1000) }

// memory leak: a 1024-byte object that the module's exit forgets to free.
// kmemleak can only see it after the unload, in a scan.
func TestLeakAtUnload(t *testing.T) { ioctl(t, device(t), ioLeakAtUnload, 0) }

// possible circular locking dependency detected: mutex a then b, then b
// then a. No deadlock happens (the calls do not overlap); lockdep reports
// the inverted order on the second call.
func TestLockInversion(t *testing.T) {
	fd := device(t)
	ioctl(t, fd, ioLockAB, 0)
	ioctl(t, fd, ioLockBA, 0)
}

// BUG: sleeping function called from invalid context (msleep under a
// spinlock); stock kernels with PREEMPT_COUNT say "scheduling while atomic".
func TestSleepInAtomic(t *testing.T) { ioctl(t, device(t), ioSleepAtomic, 0) }

// KCSAN: data-race in sanmod_race_fn / sanmod_race_fn: two kernel threads
// increment an int without a lock for two seconds.
func TestDataRace(t *testing.T) { ioctl(t, device(t), ioRace, 2000) }

// UBSAN: array-index-out-of-bounds in sanmod.c: index 4 of int[4].
func TestArrayIndexOutOfBounds(t *testing.T) {
	if got := ioctl(t, device(t), ioArrayOOB, 4); got != 5 {
		t.Logf("a[4] read %d (the field after the array is 5)", got)
	}
}
