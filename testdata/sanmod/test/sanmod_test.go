// Package test commits sanmod's deliberate bugs from Go tests in a kmodvm
// guest, one bug per test, so that each report a debug kernel prints is
// attributed to the test that caused it. On a stock kernel every test
// passes: what the kernel printed (or did not) is the result.
package test

import (
	"testing"
	"time"

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

// The tests run in this order, which matters on a debug kernel:
//   - lock inversion first: the kernel turns lockdep off for good at its
//     first taint ("Disabling lock debugging due to kernel taint"), which a
//     KASAN report or a WARNING sets;
//   - sleeping in atomic context last: the scheduler's report resets the
//     preempt count, and the test binary's next system calls report too.
// Each test pauses briefly before its bug: reports are matched to tests by
// time, and the guest agent stamps a test's "=== RUN" line when it reads
// it. A bug right after the line keeps the kernel busy printing its report
// (tens of milliseconds under TCG, with preemption off) before the agent
// gets to read the line, and the report would land on the previous test.

func settle() { time.Sleep(300 * time.Millisecond) }

// possible circular locking dependency detected: mutex a then b, then b
// then a. No deadlock happens (the calls do not overlap); lockdep reports
// the inverted order on the second call.
func TestLockInversion(t *testing.T) {
	fd := device(t)
	settle()
	ioctl(t, fd, ioLockAB, 0)
	ioctl(t, fd, ioLockBA, 0)
}

// UBSAN: array-index-out-of-bounds in sanmod.c: index 4 of int[4].
func TestArrayIndexOutOfBounds(t *testing.T) {
	fd := device(t)
	settle()
	if got := ioctl(t, fd, ioArrayOOB, 4); got != 5 {
		t.Logf("a[4] read %d (the field after the array is 5)", got)
	}
}

// KASAN: slab-out-of-bounds Write in sanmod_heap_oob (byte 24 of a
// 24-byte kmalloc object).
func TestHeapOutOfBounds(t *testing.T) { fd := device(t); settle(); ioctl(t, fd, ioHeapOOB, 24) }

// KASAN: use-after-free Read in sanmod_uaf.
func TestUseAfterFree(t *testing.T) { fd := device(t); settle(); ioctl(t, fd, ioUAF, 0) }

// KASAN: vmalloc-out-of-bounds Write in sanmod_vmalloc_oob (byte 1000 of
// a 1000-byte vmalloc area).
func TestVmallocOutOfBounds(t *testing.T) {
	fd := device(t)
	settle()
	ioctl(t, fd, ioVmallocOOB, 1000)
}

// memory leak: a 1024-byte object that the module's exit forgets to free.
// kmemleak can only see it after the unload, in a scan.
func TestLeakAtUnload(t *testing.T) { fd := device(t); settle(); ioctl(t, fd, ioLeakAtUnload, 0) }

// KCSAN: data-race in sanmod_race_fn / sanmod_race_fn: two kernel threads
// increment an int without a lock for two seconds.
func TestDataRace(t *testing.T) { fd := device(t); settle(); ioctl(t, fd, ioRace, 2000) }

// BUG: scheduling while atomic (msleep under a spinlock: the scheduler
// catches it, on stock kernels with PREEMPT_COUNT too).
func TestSleepInAtomic(t *testing.T) { fd := device(t); settle(); ioctl(t, fd, ioSleepAtomic, 0) }
