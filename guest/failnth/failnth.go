// Package failnth is the guest's systematic fault injection: the
// kernel's per-thread fail-nth control (Documentation/fault-injection),
// armed around one call on a thread locked to its goroutine, and the
// debugfs knobs that let ordinary sleeping allocations fail, set as
// syzkaller sets them. It imports nothing of kmodvm, so that the agent's
// sweeps of module loads and the guest tests' sweeps share it.
package failnth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Path is the per-thread control: writing N makes the N-th injectable
// call of the writing thread fail (an allocation, or a user copy where
// CONFIG_FAULT_INJECTION_USERCOPY is built); reading it gives how many
// calls were still to go, 0 once the failure was injected.
const Path = "/proc/thread-self/fail-nth"

// DebugFS is where the kernel's fault-injection knobs live.
const DebugFS = "/sys/kernel/debug"

// Available says why the kernel cannot inject failures, or nil: it needs
// CONFIG_FAULT_INJECTION (the control file) and debugfs' knobs.
func Available() error {
	if _, err := os.Stat(Path); err != nil {
		return fmt.Errorf("no %s: the kernel has no fault injection (CONFIG_FAULT_INJECTION; the -debug kernels have it)", Path)
	}
	return nil
}

// Knob is one setting of the kernel's fault injection: a file under
// DebugFS and the value written to it.
type Knob struct{ Path, Value string }

// Knobs are syzkaller's settings for systematic fault injection:
// GFP_KERNEL allocations may fail (by default only atomic ones do), so
// may highmem and order-0 pages; probability stays 0, so only fail-nth
// injects. verbose is what the kernel logs of an injected failure: 0
// nothing (a sweep's tests), 2 a line and the failed call's stack, which
// a sweep of module loads reads to tell where the failure hit.
func Knobs(verbose int) []Knob {
	v := strconv.Itoa(verbose)
	return []Knob{
		{"failslab/ignore-gfp-wait", "N"},
		{"failslab/verbose", v},
		{"fail_page_alloc/ignore-gfp-wait", "N"},
		{"fail_page_alloc/ignore-gfp-highmem", "N"},
		{"fail_page_alloc/min-order", "0"},
		{"fail_page_alloc/verbose", v},
		{"fail_usercopy/verbose", v},
	}
}

// Apply writes each knob's value under root, skipping the files the
// kernel does not have (missing: a kind of call that does not fail
// there), and returns what writes the old values back. A failed write
// restores what was set before it.
func Apply(root string, knobs []Knob) (restore func() error, missing []string, err error) {
	var old []Knob
	restore = func() error {
		var errs []error
		for i := len(old) - 1; i >= 0; i-- {
			if err := os.WriteFile(filepath.Join(root, old[i].Path), []byte(old[i].Value), 0o644); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, k := range knobs {
		path := filepath.Join(root, k.Path)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, k.Path)
			continue
		}
		if err == nil {
			err = os.WriteFile(path, []byte(k.Value), 0o644)
		}
		if err != nil {
			return nil, nil, errors.Join(fmt.Errorf("fault injection: %w", err), restore())
		}
		old = append(old, Knob{k.Path, strings.TrimSpace(string(b))})
	}
	return restore, missing, nil
}

// failing names what each directory of knobs makes fail, for the note on
// a kernel without it.
var failing = map[string]string{
	"failslab":        "slab allocations (CONFIG_FAILSLAB)",
	"fail_page_alloc": "page allocations (CONFIG_FAIL_PAGE_ALLOC)",
	"fail_usercopy":   "user copies (CONFIG_FAULT_INJECTION_USERCOPY)",
}

// MissingNote says what fault injection cannot do on a kernel without
// the missing ones of knobs (as Apply returns them): a directory of them
// missing altogether is a kind of call that does not fail; single knobs
// are named. "" when nothing is missing.
func MissingNote(knobs []Knob, missing []string) string {
	all := map[string]int{}
	for _, k := range knobs {
		all[filepath.Dir(k.Path)]++
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

// Injection is what one run of a call with its N-th injectable call
// failing gave.
type Injection struct {
	N    int   // the call made to fail, 1 for the first
	Left int   // injectable calls still to go when the call returned
	Err  error // the call's own error
}

// Injected reports whether the call met its N-th injectable call, which
// then failed. If not, it made N-Left calls and none failed.
func (in Injection) Injected() bool { return in.Left == 0 }

// Unbounded is an N no call reaches: Run(Unbounded, op) counts op's
// injectable calls (Unbounded - Left) and fails none.
const Unbounded = 1 << 30

// Calls is the count of injectable calls of a run with nothing injected.
func (in Injection) Calls() int { return in.N - in.Left }

// Run runs op with the n-th injectable call of its thread failing and
// reads back whether the failure was injected. The goroutine is locked
// to its thread from the arming to the read back, so op must make its
// system calls on the calling goroutine, and should make nothing else:
// a Go allocation that maps memory, or a first touch of a page, counts
// too. So the control file is opened, and the buffers for arming and
// reading back are made and written, before arming; the arming, the read
// back and the disarming are single pwrite/pread calls. A signal
// delivered to the thread counts too (with fail_usercopy, its sigreturn's
// copy is an injectable call, and failing it kills the program with a
// SIGSEGV): the thread's asynchronous signals, the Go runtime's
// preemption among them, wait from the arming to the disarming. The error
// is about the control file only.
func Run(n int, op func() error) (Injection, error) {
	in := Injection{N: n}
	if n < 1 {
		return in, fmt.Errorf("fail-nth=%d: calls count from 1", n)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	unblock, err := blockAsyncSignals()
	if err != nil {
		return in, err
	}
	defer unblock()
	fd, err := unix.Open(Path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return in, fmt.Errorf("open %s: %w", Path, err)
	}
	defer unix.Close(fd)
	arm, disarm := []byte(strconv.Itoa(n)), []byte("0")
	back := []byte("                ") // written, so that reading into it faults in no page
	if _, err := unix.Pwrite(fd, arm, 0); err != nil {
		return in, fmt.Errorf("arm %s with %d: %w", Path, n, err)
	}
	// A panic in op must not leave the thread armed.
	armed := true
	defer func() {
		if armed {
			unix.Pwrite(fd, disarm, 0)
		}
	}()
	in.Err = op()
	m, rerr := unix.Pread(fd, back, 0)
	_, werr := unix.Pwrite(fd, disarm, 0)
	// With user-copy fault injection (fail_usercopy) the read back and
	// the disarming are injectable calls too: the read's copy fails when
	// one call was left, the write's when two were, and either way the
	// armed failure went to them, not to op, and the thread is disarmed.
	if errors.Is(werr, unix.EFAULT) {
		werr = nil
	}
	armed = werr != nil
	if errors.Is(rerr, unix.EFAULT) && werr == nil {
		in.Left = 1
		return in, nil
	}
	if rerr != nil || werr != nil {
		return in, fmt.Errorf("read back and disarm %s: %w", Path, errors.Join(rerr, werr))
	}
	in.Left, err = Parse(back[:m])
	return in, err
}

// countBits bound a count read back: the kernel's is an unsigned int,
// and an int of a 32-bit guest holds 31 bits of it (a count never
// exceeds the one written, an int).
const countBits = min(32, strconv.IntSize-1)

// Parse reads the count of calls still to go that the control file
// gives back.
func Parse(b []byte) (int, error) {
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseUint(s, 10, countBits)
	if err != nil {
		return 0, fmt.Errorf("%s gave %q, not a count of calls", Path, s)
	}
	return int(n), nil
}
