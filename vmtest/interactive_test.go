package vmtest_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// mmapRun is the bundled driver and its mmap tests on 6.1.
func mmapRun(t *testing.T) vmtest.Config {
	if testing.Short() {
		t.Skip("boots kernels")
	}
	return vmtest.Config{Kernels: []string{"6.1"}, Modules: []string{"../kmod"}, Tests: []string{"../guest/mmapdrv"},
		TestArgs: []string{"-test.run=^TestMmap"}, OutDir: t.TempDir()}
}

// With GDB the guest waits with its modules loaded; gdb, attached in batch
// mode with the printed command, stops in the module's mmap handler when
// the guest's test calls mmap, at a line of the module's own source. On
// the other architectures the command runs gdb-multiarch; riscv64 has
// no 6.1, so it runs 6.12.
func TestGDBStopsTheGuestTestInAModuleFunction(t *testing.T) {
	for _, c := range []struct{ arch, gdb, series string }{
		{"amd64", "gdb", "6.1"},
		{"arm64", "gdb-multiarch", "6.1"},
		{"ppc64el", "gdb-multiarch", "6.1"},
		{"s390x", "gdb-multiarch", "6.1"},
		{"riscv64", "gdb-multiarch", "6.12"},
		{"armhf", "gdb-multiarch", "6.1"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			if _, err := exec.LookPath(c.gdb); err != nil {
				t.Skipf("needs %s (apt-get install %[1]s)", c.gdb)
			}
			cfg := mmapRun(t)
			cfg.Arch = []string{c.arch}
			cfg.Kernels = []string{c.series}
			gdbStops(t, cfg, c.gdb)
		})
	}
}

func gdbStops(t *testing.T, cfg vmtest.Config, gdbName string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.GDB = l.Addr().String()
	l.Close()
	var gdb *exec.Cmd
	var gdbErr strings.Builder
	lines := make(chan string, 1000)
	cfg.OnDebugger = func(ctx context.Context, d vmtest.Debugger) error {
		t.Logf("attach: %s", d.Command)
		if !strings.HasPrefix(d.Command, gdbName+" ") {
			t.Errorf("the command does not run %s: %s", gdbName, d.Command)
		}
		gdb = exec.Command("sh", "-c", d.Command+" -batch -ex 'break mmapdrv_mmap' -ex continue -ex bt -ex detach")
		out, err := gdb.StdoutPipe()
		if err != nil {
			return err
		}
		gdb.Stderr = &gdbErr
		if err := gdb.Start(); err != nil {
			return err
		}
		set := make(chan struct{})
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
				if strings.HasPrefix(sc.Text(), "Breakpoint 1 at") {
					close(set)
				}
			}
		}()
		// The tests start once the breakpoint is set.
		select {
		case <-set:
		case <-time.After(time.Minute):
		}
		return nil
	}
	rep, err := vmtest.RunMatrix(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if gdb == nil {
		t.Fatalf("the debugger was never called: %s", rep.Kernels[0].Error)
	}
	var out strings.Builder
	timeout := time.After(time.Minute)
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break read
			}
			out.WriteString(l + "\n")
		case <-timeout:
			gdb.Process.Kill()
			t.Fatalf("gdb still runs:\n%s", out.String())
		}
	}
	gdb.Wait()
	k := rep.Kernels[0]
	if k.Status != report.Pass {
		t.Errorf("%s: %s: %s", k.Name, k.Status, k.Error)
	}
	t.Logf("gdb's output:\n%s", out.String())
	if s := out.String(); !strings.Contains(s, "Breakpoint 1, mmapdrv_mmap (") || !strings.Contains(s, "mmapdrv.c:") {
		t.Errorf("gdb did not stop in mmapdrv_mmap:\n%s\n%s", s, gdbErr.String())
	}
	if strings.Contains(gdbErr.String()+out.String(), "No such file or directory") {
		t.Errorf("gdb did not find the module's source:\n%s\n%s", out.String(), gdbErr.String())
	}
}

// repro.sh boots the kernel's VM again without kmodvm: the agent runs the
// same tests and reports them on the events file beside the script, on
// amd64 and on the architectures whose ports are virtio-serial ones.
func TestReproScriptReplaysTheKernelsVM(t *testing.T) {
	for _, c := range []struct{ arch, series string }{
		{"amd64", "6.1"},
		{"ppc64el", "6.1"},
		{"s390x", "6.1"},
		{"riscv64", "6.12"},
		{"armhf", "6.1"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			cfg := mmapRun(t)
			cfg.Arch, cfg.Kernels = []string{c.arch}, []string{c.series}
			reproReplays(t, cfg)
		})
	}
}

func reproReplays(t *testing.T, cfg vmtest.Config) {
	rep, err := vmtest.RunMatrix(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Kernels[0]
	script := k.Files["repro.sh"]
	if k.Status != report.Pass || script == "" {
		t.Fatalf("%s: %s: %s; files %v", k.Name, k.Status, k.Error, k.Files)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh repro.sh: %v\n%s", err, tail(string(out), 3000))
	}
	f, err := os.Open(filepath.Join(filepath.Dir(script), "repro-events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := event.NewDecoder(f)
	var passed, done bool
	for {
		ev, err := dec.Next()
		if err != nil {
			break
		}
		if ev.Type == event.Test && ev.Test != nil && ev.Test.Action == "pass" && strings.HasPrefix(ev.Test.Test, "TestMmap") {
			passed = true
		}
		done = done || (ev.Type == event.Done && ev.Err == "")
	}
	if !passed || !done {
		t.Errorf("the replay's events show passed=%v done=%v; console:\n%s", passed, done, tail(string(out), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
