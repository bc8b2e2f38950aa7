package failnth

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// threadMask reads one of the calling thread's signal masks (SigBlk,
// SigPnd) from /proc/thread-self/status: bit n-1 is signal n.
func threadMask(t *testing.T, field string) uint64 {
	t.Helper()
	f, err := os.Open("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no %s in /proc/thread-self/status", field)
	return 0
}

func has(mask uint64, sig unix.Signal) bool { return mask&(1<<(uint(sig)-1)) != 0 }

// From the arming to the disarming a signal sent to the thread waits,
// the Go runtime's preemption signal (SIGURG) among them, and a fault's
// signals are never blocked; afterwards the thread's mask is what it was.
func TestBlockAsyncSignals(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadMask(t, "SigBlk")
	restore, err := blockAsyncSignals()
	if err != nil {
		t.Fatal(err)
	}
	blocked := threadMask(t, "SigBlk")
	if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGURG); err != nil {
		restore()
		t.Fatal(err)
	}
	pending := threadMask(t, "SigPnd")
	restore()
	for _, sig := range []unix.Signal{unix.SIGURG, unix.SIGINT, unix.SIGTERM, unix.SIGPROF, unix.SIGCHLD} {
		if !has(blocked, sig) {
			t.Errorf("%v is not blocked while armed (SigBlk %x)", sig, blocked)
		}
	}
	for _, sig := range synchronous {
		if has(blocked, sig) {
			t.Errorf("%v is blocked while armed (SigBlk %x): a fault would kill the program", sig, blocked)
		}
	}
	if !has(pending, unix.SIGURG) {
		t.Errorf("SIGURG sent while armed is not pending (SigPnd %x)", pending)
	}
	if after := threadMask(t, "SigBlk"); after != before {
		t.Errorf("SigBlk is %x after the disarming, %x before", after, before)
	}
}

// In a guest with fault injection: a signal delivered while the thread
// is armed has its frame's and its sigreturn's user copies counted (with
// fail_usercopy), and one of them failed kills the program with a
// SIGSEGV. So a call that gets a signal must survive having each of its
// first calls failed in turn. Another thread sends the signal, as the Go
// runtime's preemption does (sending allocates, for the sender).
func TestSignalWhileArmedIsNotFailed(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	requests := make(chan int)
	defer close(requests)
	var sent atomic.Bool
	go func() {
		runtime.LockOSThread()
		for tid := range requests {
			if err := unix.Tgkill(unix.Getpid(), tid, unix.SIGURG); err != nil {
				panic(err)
			}
			sent.Store(true)
		}
	}()
	// Nothing of the call itself can fail: a signal's delivery, and
	// the Go runtime's own calls (its clock, on a guest whose clock
	// source has no vDSO), are what the armed failure meets.
	signalled := func() error {
		requests <- unix.Gettid()
		for !sent.Load() {
			runtime.Gosched()
		}
		return nil
	}
	for n := 1; n <= 16; n++ {
		sent.Store(false)
		in, err := Run(n, signalled)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("fail-nth=%d: injected %v", n, in.Injected())
	}
}
