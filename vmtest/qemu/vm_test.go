package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// These tests boot a real kernel under QEMU. KMODVM_TEST_KERNEL names the
// kernel (a PVH vmlinux or a bzImage); KMODVM_TEST_SYSTEM_MAP, if set, a
// System.map with real symbols for it.

// qemuBinary is the emulator of the default architecture's guests.
var qemuBinary = arch.Must(arch.Default).QEMU

// vmTimeout bounds every test VM; TCG boots take 2-7 s here.
const vmTimeout = 90 * time.Second

// promptEnd bounds how long a VM may take to end once told to (a panic
// read, a cancel): QEMU's quit and exit (quitTimeout) with room for a busy
// machine, and still less than a hang diagnosis (regsTimeout + nmiWait) or
// vmTimeout, which a VM not ended at once would wait out.
const promptEnd = quitTimeout + 5*time.Second

func testKernel(t *testing.T) string {
	t.Helper()
	k := os.Getenv("KMODVM_TEST_KERNEL")
	if k == "" {
		// Debian's 6.1 from the shared cache (fetched on first use).
		k = kerneltest.Get(t, "6.1").BootImage()
	}
	if _, err := exec.LookPath(qemuBinary); err != nil {
		t.Skipf("%s not installed", qemuBinary)
	}
	return k
}

// syncBuffer is a bytes.Buffer safe for the console goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// boot runs the test init in the given mode.
func boot(t *testing.T, mode string, cfg Config) (*Result, string) {
	t.Helper()
	cfg.Kernel = testKernel(t)
	cfg.Initrd = testInitramfs(t)
	cfg.Append = append(cfg.Append, "kmodvmtest="+mode)
	if cfg.Timeout == 0 {
		cfg.Timeout = vmTimeout
	}
	var console syncBuffer
	cfg.Serial = append([]Port{{Name: "console", Output: &console}}, cfg.Serial...)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s: exit %s after %v (%s, shutdown %q)", mode, res.Exit, res.Duration.Round(time.Millisecond),
		res.ExitStatus, res.ShutdownReason)
	return res, console.String()
}

func TestRunPoweroff(t *testing.T) {
	testKernel(t)
	testInitramfs(t) // built before TMPDIR changes
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := runtime.NumGoroutine()
	res, console := boot(t, "poweroff", Config{})
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Run left %v in TMPDIR", left)
	}
	// Every helper goroutine ends with the VM.
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Run, %d before", n, before)
	}
	if res.Exit != ExitPoweroff || res.ShutdownReason != "guest-shutdown" {
		t.Errorf("exit %s (shutdown %q), want poweroff; console:\n%s\nstderr: %s",
			res.Exit, res.ShutdownReason, console, res.Stderr)
	}
	if !strings.Contains(console, `init: mode "poweroff"`) {
		t.Errorf("console lacks the init's line:\n%s", console)
	}
}

func TestRunEventPort(t *testing.T) {
	var events syncBuffer
	res, console := boot(t, "events", Config{Serial: []Port{{Name: "events", Output: &events, Param: "kmodvmtest.events"}}})
	if res.Exit != ExitPoweroff {
		t.Fatalf("exit %s, want poweroff; console:\n%s", res.Exit, console)
	}
	// The second port is ttyS1, and the guest learnt it from Param.
	if got := events.String(); !strings.Contains(got, "hello from /dev/ttyS1") {
		t.Errorf("event port got %q, want the init's line", got)
	}
}

func TestRunPanicIsReportedFast(t *testing.T) {
	var called atomic.Bool
	res, console := boot(t, "panic", Config{OnPanic: func(string) { called.Store(true) }})
	if res.Exit != ExitPanic {
		t.Fatalf("exit %s, want panic; console:\n%s", res.Exit, console)
	}
	if !strings.Contains(res.Panic, "Kernel panic - not syncing: sysrq triggered crash") {
		t.Errorf("Panic = %q, want the sysrq panic line", res.Panic)
	}
	if !called.Load() {
		t.Error("OnPanic was not called")
	}
	// Ending the VM takes the monitor's quit (quitTimeout under a busy
	// TCG); what must not happen is waiting out the VM's timeout, or a
	// hang diagnosis (regsTimeout + nmiWait).
	if after := res.Duration - res.PanicAt; after > promptEnd {
		t.Errorf("run ended %v after the panic line was read, want under %v", after, promptEnd)
	}
	t.Logf("panic line read at %v, run over %v later", res.PanicAt.Round(time.Millisecond),
		(res.Duration - res.PanicAt).Round(time.Millisecond))
}

// Two CPUs: "info registers -a" must report each, and the NMI reaches all.
func TestRunHangTimesOutWithDiagnosis(t *testing.T) {
	cfg := Config{CPUs: 2, Timeout: 15 * time.Second, SystemMap: os.Getenv("KMODVM_TEST_SYSTEM_MAP")}
	if cfg.SystemMap == "" {
		cfg.SystemMap = guestSymbols(t)
	}
	res, console := boot(t, "hang", cfg)
	if res.Exit != ExitTimeout {
		t.Fatalf("exit %s, want timeout; console:\n%s", res.Exit, console)
	}
	if !strings.Contains(console, `init: mode "hang"`) {
		t.Fatalf("guest never reached init before the timeout:\n%s", console)
	}
	if len(res.IP) != 2 || res.IPRegister != "RIP" {
		t.Fatalf("%s = %v, want both CPUs' RIPs; registers:\n%s", res.IPRegister, res.IP, res.Registers)
	}
	// Idle CPUs halt in one place: the backtrace of the guest's NMI panic
	// must name a location that System.map names for one of QEMU's RIPs.
	matched := false
	for cpu, samples := range res.IP {
		if len(samples) != ipSamples {
			t.Errorf("CPU %d: %d looks at RIP, want %d", cpu, len(samples), ipSamples)
		}
		for _, loc := range samples {
			if loc.Func == "" {
				t.Errorf("RIP %#x not symbolized with %s", loc.Addr, cfg.SystemMap)
			}
			matched = matched || strings.Contains(res.Backtrace, "RIP: 0010:"+loc.String())
		}
	}
	if !matched {
		t.Errorf("no RIP of %v appears in the NMI backtrace:\n%s", res.IP, res.Backtrace)
	}
	// The SysRq keys reach a kernel whose user space is stuck.
	for _, want := range []string{"Show Blocked State", "backtrace of all active CPUs"} {
		if !strings.Contains(res.SysRq, want) {
			t.Errorf("SysRq dump lacks %q:\n%s", want, res.SysRq)
		}
	}
	t.Logf("RIP %v; backtrace:\n%s", res.IP, res.Backtrace)
}

func TestRunQEMUKilledIsACrash(t *testing.T) {
	kernel, initrd := testKernel(t), testInitramfs(t)
	wrapper, pidFile := pidWrapper(t)
	var once sync.Once
	cfg := Config{Binary: wrapper, OnPanic: nil}
	killer := &lineHook{match: "init: mode", fn: func() {
		once.Do(func() {
			b, _ := os.ReadFile(pidFile)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}}
	cfg.Kernel, cfg.Initrd = kernel, initrd
	cfg.Append = []string{"kmodvmtest=hang"}
	cfg.Timeout = vmTimeout
	cfg.Serial = []Port{{Name: "console", Output: killer}}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Exit != ExitCrash || !strings.Contains(res.ExitStatus, "killed") {
		t.Errorf("exit %s (%s), want crash by SIGKILL", res.Exit, res.ExitStatus)
	}
}

// helperEnv makes the test binary a host process that runs one hanging VM
// (see TestQEMUDiesWithItsParent); its value is the QEMU binary to use.
const helperEnv = "KMODVM_QEMU_TEST_HELPER"

func runHelper() {
	_, err := Run(context.Background(), Config{
		Kernel: os.Getenv("KMODVM_TEST_KERNEL"), Initrd: os.Getenv("KMODVM_TEST_INITRD"),
		Binary: os.Getenv(helperEnv), Append: []string{"kmodvmtest=hang"}, Serial: []Port{{Name: "console", Output: os.Stdout}},
		Timeout: vmTimeout,
	})
	fmt.Fprintln(os.Stderr, "helper: Run returned:", err)
	os.Exit(1)
}

// A host process killed with SIGKILL runs no cleanup at all; its QEMU must
// die anyway (Pdeathsig), not linger as an orphan.
func TestQEMUDiesWithItsParent(t *testing.T) {
	kernel, initrd := testKernel(t), testInitramfs(t)
	wrapper, pidFile := pidWrapper(t)
	tmp := t.TempDir()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+wrapper, "KMODVM_TEST_KERNEL="+kernel, "KMODVM_TEST_INITRD="+initrd,
		"TMPDIR="+tmp)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	waitFor(t, out, "init: mode")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("QEMU %d not running: %v", pid, err)
	}
	helper.Process.Kill()
	helper.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("QEMU %d outlived its parent by 5s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The killed process's work directory stays until the next Run in the
	// same TMPDIR sweeps it.
	left, _ := filepath.Glob(filepath.Join(tmp, workDirPrefix+"*"))
	if len(left) != 1 {
		t.Fatalf("work dirs after the kill: %v, want the dead helper's", left)
	}
	sweepWorkDirs(tmp)
	if _, err := os.Stat(left[0]); !os.IsNotExist(err) {
		t.Errorf("sweep left %s: %v", left[0], err)
	}
}

// pidWrapper returns a QEMU "binary" that records QEMU's pid and execs it.
func pidWrapper(t *testing.T) (wrapper, pidFile string) {
	t.Helper()
	qemu, err := exec.LookPath(qemuBinary)
	if err != nil {
		t.Skipf("%s not installed", qemuBinary)
	}
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "pid")
	wrapper = filepath.Join(dir, "qemu")
	script := "#!/bin/sh\necho $$ > " + pidFile + "\nexec " + qemu + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, pidFile
}

// waitFor reads r until it has seen s.
func waitFor(t *testing.T, r io.Reader, s string) {
	t.Helper()
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte(s)) {
		n, err := r.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("%q never came: %v\n%s", s, err, seen)
		}
	}
}

// lineHook calls fn whenever the console output seen so far contains match.
type lineHook struct {
	mu    sync.Mutex
	seen  []byte
	match string
	fn    func()
}

func (h *lineHook) Write(p []byte) (int, error) {
	h.mu.Lock()
	h.seen = append(h.seen, p...)
	hit := bytes.Contains(h.seen, []byte(h.match))
	h.mu.Unlock()
	if hit {
		h.fn()
	}
	return len(p), nil
}

// Canceling the context (Ctrl-C in the CLI) kills the VM at once, without
// the hang diagnosis a timeout gets.
func TestRunCanceledEndsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var canceledAt atomic.Int64
	hook := &lineHook{match: "init: mode", fn: func() {
		if canceledAt.CompareAndSwap(0, time.Now().UnixNano()) {
			cancel()
		}
	}}
	cfg := Config{Kernel: testKernel(t), Initrd: testInitramfs(t), Append: []string{"kmodvmtest=hang"},
		Serial: []Port{{Name: "console", Output: hook}}, Timeout: vmTimeout}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Exit != ExitCanceled || res.Registers != "" {
		t.Errorf("exit %s (registers %q), want canceled without diagnosis", res.Exit, res.Registers)
	}
	if after := time.Since(time.Unix(0, canceledAt.Load())); after > promptEnd {
		t.Errorf("Run returned %v after the cancel, want under %v", after, promptEnd)
	}
}

// A VM its caller judges stuck ends within StuckDiagnosisTime and a
// moment, with the SysRq dumps and the CPUs' instruction pointers but no
// NMI, and the caller's cause.
func TestRunStuckEndsAfterAQuickDiagnosis(t *testing.T) {
	stuck := make(chan string, 1)
	var sentAt atomic.Int64
	hook := &lineHook{match: "init: mode", fn: func() {
		if sentAt.CompareAndSwap(0, time.Now().UnixNano()) {
			stuck <- "the test says so"
		}
	}}
	cfg := Config{Kernel: testKernel(t), Initrd: testInitramfs(t), Append: []string{"kmodvmtest=hang"},
		Serial: []Port{{Name: "console", Output: hook}}, Timeout: vmTimeout, Stuck: stuck, SystemMap: guestSymbols(t)}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	took := time.Since(time.Unix(0, sentAt.Load()))
	t.Logf("ended %v after the cause; SysRq %d bytes, RIPs %v", took.Round(time.Millisecond), len(res.SysRq), res.IP)
	if res.Exit != ExitStuck || res.Cause != "the test says so" || res.Backtrace != "" {
		t.Errorf("exit %s, cause %q, backtrace %d bytes: want stuck, the cause, no NMI", res.Exit, res.Cause, len(res.Backtrace))
	}
	if took > StuckDiagnosisTime+promptEnd {
		t.Errorf("Run returned %v after the cause, want under %v", took, StuckDiagnosisTime+promptEnd)
	}
	if !strings.Contains(res.SysRq, "Show Blocked State") || len(res.IP) == 0 {
		t.Errorf("diagnosis lacks the SysRq dump or the RIPs: %v\n%s", res.IP, res.SysRq)
	}
	// The shorter diagnosis still looks at the CPU as often as a hang's.
	for cpu, samples := range res.IP {
		if len(samples) != ipSamples {
			t.Errorf("CPU %d: %d looks at RIP, want %d", cpu, len(samples), ipSamples)
		}
	}
}

func TestRunMissingBinary(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "k")
	if err := os.WriteFile(k, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Config{Kernel: k, Initrd: k, Binary: "kmodvm-no-such-qemu"})
	if !errors.Is(err, ErrNoQEMU) || !strings.Contains(err.Error(), "apt-get install qemu-system-x86") {
		t.Errorf("err = %v, want ErrNoQEMU naming the package to install", err)
	}
}

func TestRunQEMUErrorCarriesStderr(t *testing.T) {
	if _, err := exec.LookPath(qemuBinary); err != nil {
		t.Skipf("%s not installed", qemuBinary)
	}
	dir := t.TempDir()
	junk := filepath.Join(dir, "not-a-kernel")
	if err := os.WriteFile(junk, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{Kernel: junk, Initrd: junk, Dir: dir, Timeout: vmTimeout})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Exit != ExitQEMUError || res.Stderr == "" {
		t.Errorf("exit %s, stderr %q; want qemu-error with QEMU's message", res.Exit, res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "qmp.sock")); !os.IsNotExist(err) {
		t.Errorf("QMP socket left behind: %v", err)
	}
	t.Logf("stderr: %s", strings.TrimSpace(res.Stderr))
}

// guestSymbols writes the test kernel's text symbols, as the booted kernel
// lists them in /proc/kallsyms, to a System.map file. Debian ships only a
// stub System.map; with nokaslr the runtime addresses are the link-time ones.
func guestSymbols(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "System.map")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, console := boot(t, "kallsyms", Config{Serial: []Port{{Name: "events", Output: f, Param: "kmodvmtest.events"}}})
	if res.Exit != ExitPoweroff {
		t.Fatalf("kallsyms boot: exit %s; console:\n%s", res.Exit, console)
	}
	return path
}
