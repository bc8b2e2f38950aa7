package toolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envParent makes this test binary the parent of TestParentHelper's
// command: the process the test then kills with SIGKILL.
const envParent = "KMODVM_TOOLCHAIN_TEST_PARENT"

// TestParentHelper, when this binary runs as the parent, starts a command
// as make would run (a child that starts a grandchild, each writing its pid
// to the file the environment names) and waits for it forever.
func TestParentHelper(t *testing.T) {
	pids := os.Getenv(envParent)
	if pids == "" {
		t.Skip("the parent of TestCommandDiesWithItsParent")
	}
	cmd := (&Toolchain{}).Command(context.Background(), nil, "sh", "-c", "echo $$ >> "+pids+"; sleep 300 & echo $! >> "+pids+"; wait")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}

// A kmodvm killed with SIGKILL runs no cleanup: the command it ran, and
// the processes that command started, die all the same.
func TestCommandDiesWithItsParent(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	parent := exec.Command(os.Args[0], "-test.run=^TestParentHelper$")
	parent.Env = append(os.Environ(), envParent+"="+pids)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	var started []int
	for deadline := time.Now().Add(30 * time.Second); len(started) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			parent.Process.Kill()
			t.Fatalf("the command never started its child: %v", started)
		}
		b, _ := os.ReadFile(pids)
		started = nil
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			started = append(started, pid)
		}
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var alive []int
		for _, pid := range started {
			if running(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived their killed parent: %v", alive)
		}
	}
}

// running reports whether pid runs (a zombie waiting for its reaper does
// not).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// A read-only bind cannot be written by the command, even as root; the
// others can, and the command's exit status is its own.
func TestReadOnlyBindsCannotBeWritten(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("read-only binds need root (a mount namespace)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	entry, out := t.TempDir(), t.TempDir()
	binds := []Bind{{Path: entry, ReadOnly: true}, {Path: out}}
	err := (&Toolchain{}).Command(t.Context(), binds, "sh", "-c", "echo changed > "+entry+"/config").Run()
	if err == nil {
		t.Error("the command wrote into a read-only bind")
	}
	if _, serr := os.Stat(filepath.Join(entry, "config")); serr == nil {
		t.Error("the kernel entry was changed")
	}
	if err := (&Toolchain{}).Command(t.Context(), binds, "sh", "-c", "echo built > "+out+"/m.ko").Run(); err != nil {
		t.Errorf("writing the build directory: %v", err)
	}
	cmd := (&Toolchain{}).Command(t.Context(), binds, "sh", "-c", "exit 7")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("exit status %v, want the command's 7", err)
	}
}
