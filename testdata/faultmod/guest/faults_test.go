// Package guest triggers faultmod's faults from Go tests in a kmodvm
// guest, for kmodvm's own reliability tests (vmtest/faults_test.go), which
// pick one scenario per VM with -test.run. Faults that kill the calling
// process run in a child (this binary, re-executed), so that the test
// itself survives to be judged.
package guest

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl numbers from ../faultmod.h: _IO and _IOW of magic 'F', encoded
// with the layout of the architecture the tests are built for
// (ioc_*_test.go).
const (
	ioWarn       = iocNone<<iocDirShift | 'F'<<8 | 0x01
	ioOops       = iocNone<<iocDirShift | 'F'<<8 | 0x02
	ioBug        = iocNone<<iocDirShift | 'F'<<8 | 0x03
	ioPanic      = iocNone<<iocDirShift | 'F'<<8 | 0x04
	ioHangRead   = iocNone<<iocDirShift | 'F'<<8 | 0x05
	ioRelease    = iocNone<<iocDirShift | 'F'<<8 | 0x06
	ioSoftLockup = iocNone<<iocDirShift | 'F'<<8 | 0x07
	ioAtomic     = iocNone<<iocDirShift | 'F'<<8 | 0x08
	ioLeak       = iocNone<<iocDirShift | 'F'<<8 | 0x09
	ioUsercopy   = iocWrite<<iocDirShift | 16<<16 | 'F'<<8 | 0x0a
	ioGPF        = iocNone<<iocDirShift | 'F'<<8 | 0x0b
)

const childEnv = "FAULTMOD_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		n, _ := strconv.ParseUint(v, 0, 64)
		fd, err := unix.Open("/dev/faultmod", unix.O_RDWR, 0)
		if err != nil {
			os.Exit(10)
		}
		if n == ioUsercopy {
			buf := make([]byte, 64)
			arg := struct{ addr, len uint64 }{uint64(uintptr(unsafe.Pointer(&buf[0]))), 64}
			unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(n), uintptr(unsafe.Pointer(&arg)))
		} else {
			unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(n), 0)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func skipOutsideVM(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("triggers kernel faults: only in a kmodvm guest")
	}
}

func device(t *testing.T) int {
	t.Helper()
	skipOutsideVM(t)
	fd, err := unix.Open("/dev/faultmod", unix.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/faultmod: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func ioctl(t *testing.T, fd int, req, arg uintptr) error {
	t.Helper()
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg); e != 0 {
		return e
	}
	return nil
}

// inChild triggers req in a child process and returns how it ended. A
// task that oopses while holding a lock may never finish exiting: after a
// few seconds the child is left behind and the test goes on.
func inChild(t *testing.T, req uintptr) error {
	t.Helper()
	skipOutsideVM(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.FormatUint(uint64(req), 10))
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("the child did not finish exiting after the fault")
	}
}

var onlyOnFlag = flag.String("only-on", "", "trigger faults only on kernels whose release starts with this")

// onlyOn restricts a fault to the kernels -only-on names, so that the
// other kernels of the same run show they were unaffected.
func onlyOn(t *testing.T) {
	want := *onlyOnFlag
	if want == "" {
		return
	}
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	if !strings.HasPrefix(string(rel), want) {
		t.Skipf("fault only on %s", want)
	}
}

func TestAPass(t *testing.T) {}

func TestFail(t *testing.T) { t.Error("this test fails on purpose") }

func TestWarnDuringPassingTest(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	if err := ioctl(t, fd, ioWarn, 0); err != nil {
		t.Fatal(err)
	}
}

func TestOopsInChild(t *testing.T) {
	onlyOn(t)
	err := inChild(t, ioOops)
	t.Logf("child: %v", err) // the Oops kills the child; the test itself passes
}

func TestBugInChild(t *testing.T) {
	onlyOn(t)
	t.Logf("child: %v", inChild(t, ioBug))
}

func TestGPFInChild(t *testing.T) {
	onlyOn(t)
	t.Logf("child: %v", inChild(t, ioGPF))
}

func TestUsercopyInChild(t *testing.T) {
	onlyOn(t)
	t.Logf("child: %v", inChild(t, ioUsercopy))
}

func TestAtomicSleep(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	ioctl(t, fd, ioAtomic, 0)
}

// TestFloodKernelLog writes records to the kernel log far faster than the
// event port moves them, so that the ring buffer overruns under the agent
// and records are lost before it reads them. The test itself passes: the
// loss is for the host to notice.
func TestFloodKernelLog(t *testing.T) {
	skipOutsideVM(t)
	// Writes to /dev/kmsg are rate-limited (10 per 5 s) unless allowed.
	if err := os.WriteFile("/proc/sys/kernel/printk_devkmsg", []byte("on\n"), 0); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Random text does not compress, so batches cannot outrun the loss;
	// level 7 keeps it off the console. 1 MB is several ring buffers.
	buf := make([]byte, 100)
	for i := range 10000 {
		rand.Read(buf)
		if _, err := fmt.Fprintf(f, "<7>flood %d %x\n", i, buf); err != nil {
			t.Fatal(err)
		}
	}
}

func TestZAfterFault(t *testing.T) {} // later tests still run

func TestPanic(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	// Give the agent time to read this test's "=== RUN" line: a kernel
	// that dies first leaves kmodvm only the binary to blame
	// (TestFaultPanicBeforeTheTestIsKnown covers that case).
	time.Sleep(200 * time.Millisecond)
	ioctl(t, fd, ioPanic, 0)
	time.Sleep(time.Minute)
	t.Fatal("still alive after the panic")
}

func TestHangInRead(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	if err := ioctl(t, fd, ioHangRead, 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	unix.Read(fd, buf) // sleeps in D state until killed... or forever
	t.Fatal("read returned")
}

func TestSoftLockup(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	// Report a lockup after 2 s rather than 20: watchdog_thresh is half
	// the soft-lockup threshold.
	if err := os.WriteFile("/proc/sys/kernel/watchdog_thresh", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	ioctl(t, fd, ioSoftLockup, 4)
}

func TestLeakReference(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	if err := ioctl(t, fd, ioLeak, 0); err != nil {
		t.Fatal(err)
	}
}

func TestGoPanic(t *testing.T) {
	skipOutsideVM(t)
	onlyOn(t)
	var m map[string]int
	m["boom"]++ // a Go panic: the binary exits 2 mid-test
}

func TestPanicAtOnce(t *testing.T) {
	fd := device(t)
	ioctl(t, fd, ioPanic, 0)
	time.Sleep(time.Minute)
}

// TestOopsThenHang oopses in a child, then hangs in the module: a test
// left waiting after its kernel failed, as on a lock the dead task held.
func TestOopsThenHang(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	inChild(t, ioOops)
	if err := ioctl(t, fd, ioHangRead, 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	unix.Read(fd, buf)
	t.Fatal("read returned")
}

// TestOopsThenAgentStops oopses in a child, then stops the agent (PID 1)
// for good through faultmod's wedge_init: after that only the console
// tells the host anything.
func TestOopsThenAgentStops(t *testing.T) {
	skipOutsideVM(t)
	onlyOn(t)
	inChild(t, ioOops)
	// The agent sends this test's start and the Oops first.
	time.Sleep(time.Second)
	if err := os.WriteFile("/sys/module/faultmod/parameters/wedge_init", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Minute)
	t.Fatal("still running after the agent stopped")
}

// TestSpinPastTheRunTimeout keeps the only CPU in the module with
// preemption off for five minutes: the agent cannot run, so only the host
// can say what the guest is doing when the run's timeout comes.
func TestSpinPastTheRunTimeout(t *testing.T) {
	fd := device(t)
	onlyOn(t)
	ioctl(t, fd, ioSoftLockup, 300)
}

// TestZZAfterCrash runs after every test above that can crash or wedge the
// kernel (tests run in source order): after a reboot it still runs.
func TestZZAfterCrash(t *testing.T) {}
