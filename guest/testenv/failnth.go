package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FailNthPath is the kernel's per-thread systematic fault injection
// (Documentation/fault-injection/fault-injection.rst): writing N makes the
// N-th injectable call of the writing thread fail (an allocation, or a
// user copy where CONFIG_FAULT_INJECTION_USERCOPY is built); reading it
// gives how many calls were still to go, 0 once the failure was injected.
const FailNthPath = "/proc/thread-self/fail-nth"

// debugFS is where the kernel's fault-injection knobs live.
const debugFS = "/sys/kernel/debug"

// knob is one setting of the kernel's fault injection, a file under
// debugFS.
type knob struct{ path, value string }

// sweepKnobs are syzkaller's settings for systematic fault injection:
// GFP_KERNEL allocations may fail (by default only atomic ones do), so
// may highmem and order-0 pages (user pages, page tables), and no
// injected failure is logged. Probability stays 0, so only fail-nth
// injects: the rest of the guest allocates as before.
var sweepKnobs = []knob{
	{"failslab/ignore-gfp-wait", "N"},
	{"failslab/verbose", "0"},
	{"fail_page_alloc/ignore-gfp-wait", "N"},
	{"fail_page_alloc/ignore-gfp-highmem", "N"},
	{"fail_page_alloc/min-order", "0"},
	{"fail_page_alloc/verbose", "0"},
	{"fail_usercopy/verbose", "0"},
}

// failing names what each directory of knobs makes fail, for the note on
// a kernel without it.
var failing = map[string]string{
	"failslab":        "slab allocations (CONFIG_FAILSLAB)",
	"fail_page_alloc": "page allocations (CONFIG_FAIL_PAGE_ALLOC)",
	"fail_usercopy":   "user copies (CONFIG_FAULT_INJECTION_USERCOPY)",
}

// faultSettings counts the tests of this process that need sweepKnobs
// set: the first sets them, the last to end restores them, so that tests
// running in parallel do not restore the knobs under each other.
var faultSettings struct {
	sync.Mutex
	users   int
	restore func() error
	noted   bool // the kernel's missing knobs were logged
}

// EnableFaultInjection prepares the kernel for FailNth until t ends: it
// sets syzkaller's fault-injection settings (those of them the kernel
// has) and restores them after. It skips t outside a kmodvm guest and on
// kernels without fail-nth, naming the -debug kernels, which have it.
func EnableFaultInjection(t testing.TB) {
	t.Helper()
	SkipIfNotVM(t)
	if _, err := os.Stat(FailNthPath); err != nil {
		t.Skipf("no %s: the kernel has no fault injection (CONFIG_FAULT_INJECTION, with CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_DEBUG_FS); the -debug kernels have it: kmodvm run -k 6.1-debug", FailNthPath)
	}
	faultSettings.Lock()
	defer faultSettings.Unlock()
	if faultSettings.users == 0 {
		restore, missing, err := applyKnobs(debugFS, sweepKnobs)
		if err != nil {
			t.Fatal(err)
		}
		if note := missingNote(sweepKnobs, missing); note != "" && !faultSettings.noted {
			t.Log(note)
			faultSettings.noted = true
		}
		faultSettings.restore = restore
	}
	faultSettings.users++
	t.Cleanup(func() {
		faultSettings.Lock()
		defer faultSettings.Unlock()
		faultSettings.users--
		if faultSettings.users == 0 {
			if err := faultSettings.restore(); err != nil {
				t.Errorf("restore fault injection settings: %v", err)
			}
		}
	})
}

// applyKnobs writes each knob's value under root, skipping the files the
// kernel does not have (missing), and returns what writes the old values
// back. A failed write restores what was set before it.
func applyKnobs(root string, knobs []knob) (restore func() error, missing []string, err error) {
	var old []knob
	restore = func() error {
		var errs []error
		for i := len(old) - 1; i >= 0; i-- {
			if err := os.WriteFile(filepath.Join(root, old[i].path), []byte(old[i].value), 0o644); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, k := range knobs {
		path := filepath.Join(root, k.path)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, k.path)
			continue
		}
		if err == nil {
			err = os.WriteFile(path, []byte(k.value), 0o644)
		}
		if err != nil {
			return nil, nil, errors.Join(fmt.Errorf("fault injection: %w", err), restore())
		}
		old = append(old, knob{k.path, strings.TrimSpace(string(b))})
	}
	return restore, missing, nil
}

// missingNote says what fault injection cannot do on a kernel without
// the missing ones of knobs: a directory of them missing altogether is a
// kind of call that does not fail (failing names each); single knobs are
// named.
func missingNote(knobs []knob, missing []string) string {
	all := map[string]int{}
	for _, k := range knobs {
		all[filepath.Dir(k.path)]++
	}
	gone := map[string]int{}
	for _, m := range missing {
		gone[filepath.Dir(m)]++
	}
	var notes []string
	noted := map[string]bool{}
	for _, m := range missing {
		dir := filepath.Dir(m)
		switch {
		case gone[dir] < all[dir]:
			notes = append(notes, "no "+m)
		case !noted[dir]:
			notes = append(notes, failing[dir]+" do not fail (no "+dir+")")
			noted[dir] = true
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return "fault injection on this kernel: " + strings.Join(notes, "; ")
}

// Injection is what one run of an operation with its N-th injectable
// call failing gave.
type Injection struct {
	N    int   // the call made to fail, 1 for the first
	Left int   // injectable calls still to go when the operation returned
	Err  error // the operation's own error
}

// Injected reports whether the operation met its N-th injectable call,
// which then failed. If not, it made N-Left calls and none failed.
func (in Injection) Injected() bool { return in.Left == 0 }

// FailNth runs op with the n-th injectable call of its thread failing,
// and reads back whether the failure was injected. The goroutine is locked
// to its thread from the arming to the read back, so op must make its
// system calls on the calling goroutine. The window is kept to op alone:
// the control file is opened, and the buffers for arming and reading it
// back are made and written, before arming; the arming, the read back
// and the disarming are single pwrite/pread calls on it. What op does
// beyond its system call is its own business: a Go allocation that maps
// memory, or a first touch of a page, counts as an injectable call too
// (see FailEach). The fault injection must be enabled
// (EnableFaultInjection); the error is about the control file only.
func FailNth(n int, op func() error) (Injection, error) {
	in := Injection{N: n}
	if n < 1 {
		return in, fmt.Errorf("fail-nth=%d: calls count from 1", n)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Open(FailNthPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return in, fmt.Errorf("open %s: %w", FailNthPath, err)
	}
	defer unix.Close(fd)
	arm, disarm := []byte(strconv.Itoa(n)), []byte("0")
	back := []byte("                ") // written, so that reading into it faults in no page
	awaitRead(1, outputReadWait)
	if _, err := unix.Pwrite(fd, arm, 0); err != nil {
		return in, fmt.Errorf("arm %s with %d: %w", FailNthPath, n, err)
	}
	// A panic or runtime.Goexit in op must not leave the thread armed.
	armed := true
	defer func() {
		if armed {
			unix.Pwrite(fd, disarm, 0)
		}
	}()
	in.Err = op()
	m, rerr := unix.Pread(fd, back, 0)
	_, werr := unix.Pwrite(fd, disarm, 0)
	armed = werr != nil
	if rerr != nil || werr != nil {
		return in, fmt.Errorf("read back and disarm %s: %w", FailNthPath, errors.Join(rerr, werr))
	}
	in.Left, err = parseFailNth(back[:m])
	return in, err
}

// failNthBits bound a count read back: the kernel's is an unsigned int,
// and an int of a 32-bit guest holds 31 bits of it (a count never
// exceeds the one written, an int).
const failNthBits = min(32, strconv.IntSize-1)

// parseFailNth reads the count of calls still to go that the fail-nth
// file gives back.
func parseFailNth(b []byte) (int, error) {
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseUint(s, 10, failNthBits)
	if err != nil {
		return 0, fmt.Errorf("%s gave %q, not a count of calls", FailNthPath, s)
	}
	return int(n), nil
}

// outputReadWait bounds FailNth's wait for its output to be read.
const outputReadWait = time.Second

// awaitRead waits, up to limit, until the reader of the pipe fd writes
// to has read all of it. FailNth waits so for the test binary's standard
// output: the kmodvm agent reads it through a pipe and stamps each test
// with the time it read the test's "=== RUN" line, and the kernel's
// report of an injected failure is placed in the test running at the
// report's time, so the line must be read before the failure is armed.
// If fd is no pipe (a terminal, a file) there is nothing to wait for.
func awaitRead(fd int, limit time.Duration) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	deadline := time.Now().Add(limit)
	for {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD: bytes not yet read
		if err != nil || n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
