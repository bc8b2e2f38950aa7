package agent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

const (
	// killGrace bounds the wait for a killed binary: a task stuck in an
	// uninterruptible sleep inside a module never dies, and the run must go
	// on to report it.
	killGrace = 5 * time.Second
)

// baseEnv is the environment of every test binary before the configured one.
var baseEnv = []string{
	"PATH=/bin:/bbin:/usr/bin:/sbin:/usr/sbin",
	"HOME=/tmp",
	"TMPDIR=/tmp",
}

// runBinary runs one test binary with -test.v=test2json, streaming its
// results as Test events, and returns how it ended. The binary runs in its
// own process group in the directory holding it (its package's testdata/
// sits beside it), so that a timeout kills it and all its children.
func (a *Agent) runBinary(tb event.TestBinary) (*event.Exit, error) {
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopReading := func() { stopOnce.Do(func() { close(stop) }) }
	defer stopReading()
	cmd, out, start, err := a.startBinary(tb)
	if err != nil {
		return nil, err
	}
	var lastOutput atomic.Int64 // when the binary last wrote, guest monotonic ns
	conv, copied := a.streamOutput(tb.Name, tb.Plain, out, stop, &lastOutput)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stall := a.stallWatch(time.Duration(tb.FaultGrace), &lastOutput)
	defer stall.stop()
	exit, waitErr, died := a.awaitBinary(tb, cmd, exited, stall.fired)
	exit.Elapsed = time.Since(start).Seconds()
	if !died {
		stopReading()
		exit.Code = -1
		return exit, fmt.Errorf("%s did not die %v after SIGKILL (uninterruptible sleep?)", tb.Name, killGrace)
	}
	describeExit(exit, cmd.ProcessState, waitErr)
	// Children that outlived the binary may hold the pipe open.
	unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	select {
	case <-copied:
	case <-time.After(time.Second):
		stopReading()
		<-copied
	}
	conv.Close(exit.Code == 0 && exit.Signal == "")
	return exit, nil
}

// startBinary starts tb with its output, standard error included, on a
// pipe; out is the pipe's read end, which the reader closes. start is
// when the binary started.
func (a *Agent) startBinary(tb event.TestBinary) (cmd *exec.Cmd, out int, start time.Time, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, 0, start, fmt.Errorf("pipe: %w", err)
	}
	w := os.NewFile(uintptr(p[1]), "test output")
	args := tb.Args
	if !tb.Plain {
		args = append([]string{"-test.v=test2json"}, args...)
	}
	cmd = exec.Command(tb.Path, args...)
	cmd.Dir = filepath.Dir(tb.Path)
	cmd.Env = append(append(append([]string{}, baseEnv...), tb.Env...),
		event.EnvGuest+"=1", event.EnvConfig+"="+a.configPath)
	// go test merges stderr into the converter too: panics and crashes
	// belong to the running test's output.
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start = time.Now()
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, 0, start, fmt.Errorf("start %s: %w", tb.Path, err)
	}
	return cmd, p[0], start, nil
}

// streamOutput converts the output read from the pipe fd into Test events
// of binary name, and keeps in lastOutput when it last came. copied closes
// once the pipe has ended (or stop closed) and all of it is converted.
func (a *Agent) streamOutput(name string, plain bool, fd int, stop <-chan struct{}, lastOutput *atomic.Int64) (conv *converter, copied <-chan struct{}) {
	// Output is read and time-stamped as the binary writes it, apart from
	// converting and sending it, which waits on the slow serial port: the
	// host matches kernel log records to tests by these times.
	chunks := make(chan outputChunk, maxPendingChunks)
	go readChunks(fd, chunks, stop)
	var stamp int64
	lastOutput.Store(event.Monotonic())
	emit := func(te event.TestEvent) {
		a.emit(event.Event{Type: event.Test, Binary: name, Test: &te, Mono: stamp})
	}
	if plain {
		conv = newPlainConverter(name, emit, a.drainKmsg)
	} else {
		conv = newConverter(name, emit, a.drainKmsg)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range chunks {
			stamp = c.mono
			lastOutput.Store(c.mono)
			conv.Write(c.data)
		}
	}()
	return conv, done
}

// awaitBinary waits until the binary exits, its timeout passes or it
// stalls after a kernel fault (stalled); a binary stopped is killed, its
// process group with it, once the blocked tasks are dumped. died reports
// that it is gone; waitErr is Wait's error.
func (a *Agent) awaitBinary(tb event.TestBinary, cmd *exec.Cmd, exited <-chan error, stalled <-chan string) (exit *event.Exit, waitErr error, died bool) {
	timeout := time.Duration(tb.Timeout)
	if timeout <= 0 {
		timeout = event.DefaultTestTimeout
	}
	exit = &event.Exit{}
	select {
	case waitErr = <-exited:
	case <-time.After(timeout):
		exit.TimedOut = true
	case exit.Fault = <-stalled:
		exit.Stalled = true
	}
	if exit.TimedOut || exit.Stalled {
		exit.BlockedTasks = a.dumpBlockedTasks()
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		select {
		case waitErr = <-exited:
		case <-time.After(killGrace):
			return exit, nil, false
		}
	}
	return exit, waitErr, true
}

// stall watches a running binary for a kernel fault followed by silence.
type stall struct {
	fired <-chan string // the fault's line, once the binary has stalled
	stop  func()
}

// stallWatch returns a watch that fires when the kernel has reported a
// fault since the binary started and neither that report nor the binary's
// last output (lastOutput, guest monotonic ns) is younger than grace. With
// no grace, or no kernel log, it never fires.
func (a *Agent) stallWatch(grace time.Duration, lastOutput *atomic.Int64) stall {
	fired := make(chan string, 1)
	if grace <= 0 || a.kmsg == nil {
		return stall{fired: fired, stop: func() {}}
	}
	f := &a.kmsg.faults
	before := f.n.Load()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(min(time.Second, grace/4))
		defer tick.Stop()
		var faultAt int64 // when the agent saw the fault, monotonic ns
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			line, ok := f.since(before)
			if !ok {
				continue
			}
			now := event.Monotonic()
			if faultAt == 0 {
				faultAt = now
			}
			quiet := time.Duration(now - max(faultAt, lastOutput.Load()))
			if quiet >= grace {
				fired <- line
				return
			}
		}
	}()
	var once sync.Once
	return stall{fired: fired, stop: func() { once.Do(func() { close(done) }) }}
}

// outputChunk is a piece of a test binary's output and when it was read.
type outputChunk struct {
	data []byte
	mono int64
}

// maxPendingChunks bounds the output read but not yet sent (32 KiB each):
// past it the reader stops and the binary blocks on its full pipe.
const maxPendingChunks = 256

// readChunks reads the pipe fd until it ends or stop closes, stamping each
// chunk, then closes fd. It runs on a thread of its own at the highest
// nice level, blocked in the kernel rather than in Go's poller, so that the
// pipe's writer wakes it at once: the stamps then tell when the binary
// wrote, even while the test keeps the CPU busy. (Without it, a line could
// be read tens of milliseconds late, after the kernel log record of a fault
// the next test caused.) Not a real-time policy: Go's runtime spins on
// locks, and a SCHED_FIFO thread spinning on the only CPU starved the
// thread holding the lock; the agent hung.
func readChunks(fd int, out chan<- outputChunk, stop <-chan struct{}) {
	defer close(out)
	defer unix.Close(fd)
	runtime.LockOSThread() // never unlocked: the thread ends with us
	unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -20)
	buf := make([]byte, 32<<10)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := unix.Poll(fds, 100)
		if n <= 0 {
			if err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			continue
		}
		n, err = unix.Read(fd, buf)
		if n > 0 {
			out <- outputChunk{data: append([]byte(nil), buf[:n]...), mono: event.Monotonic()}
		}
		if n == 0 || (err != nil && !errors.Is(err, unix.EINTR)) {
			return
		}
	}
}

// describeExit records the exit status or the signal that ended a process.
func describeExit(exit *event.Exit, ps *os.ProcessState, waitErr error) {
	if ps == nil {
		exit.Code = -1
		if waitErr != nil {
			exit.Signal = waitErr.Error()
		}
		return
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		exit.Code = -1
		exit.Signal = unix.SignalName(ws.Signal())
		if ws.CoreDump() {
			exit.Signal += " (core dumped)"
		}
	default:
		exit.Code = ps.ExitCode()
	}
}

// dumpBlockedTasks asks the kernel for the stacks of all tasks in
// uninterruptible sleep (sysrq w) and returns the records it logged. The
// full task dump (sysrq t) is far too large for a serial port under TCG.
func (a *Agent) dumpBlockedTasks() string {
	text, err := a.sysrq('w')
	if err != nil {
		a.logf("%v", err)
	}
	return text
}

// sysrq triggers a magic SysRq key and returns the kernel log records it
// wrote.
func (a *Agent) sysrq(key byte) (string, error) {
	if a.kmsg == nil {
		return "", errors.New("no kernel log to capture the dump from")
	}
	var werr error
	text := a.kmsg.Capture(func() {
		werr = writeFile("/proc/sysrq-trigger", string(key))
	})
	if werr != nil {
		return text, fmt.Errorf("sysrq %c: %w", key, werr)
	}
	return text, nil
}
