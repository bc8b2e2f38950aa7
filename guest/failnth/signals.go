package failnth

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// synchronous are the signals a fault of the thread's own raises: they
// are never blocked, so that a bad access in the call still panics as Go
// makes it (the kernel would kill the program at once if they were).
var synchronous = []unix.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS}

// asyncSignals is the set of every signal but the synchronous ones.
func asyncSignals() unix.Sigset_t {
	var set unix.Sigset_t
	for i := range set.Val {
		set.Val[i] = ^set.Val[i]
	}
	bits := uint(unsafe.Sizeof(set.Val[0]) * 8)
	for _, sig := range synchronous {
		n := uint(sig) - 1
		set.Val[n/bits] &^= 1 << (n % bits)
	}
	return set
}

// blockAsyncSignals blocks the calling thread's asynchronous signals,
// which stay pending, and returns what restores the thread's mask (then
// they are delivered). The caller is locked to its thread.
func blockAsyncSignals() (restore func(), err error) {
	set := asyncSignals()
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		return nil, fmt.Errorf("block signals for fail-nth: %w", err)
	}
	return func() { unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) }, nil
}
