package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// Cancelling a command whose child started children of its own (make
// running gcc) ends them all, and Wait returns at once although they held
// the output pipe.
func TestCancelKillsTheWholeTreeAndReturnsPromptly(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(t.Context())
	cmd := Command(ctx, "sh", "-c", `sleep 100 & echo $! > `+pidFile+`; sleep 100`)
	var out strings.Builder
	cmd.Stdout = &out // a pipe the grandchild shares
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var grandchild int
	for deadline := time.Now().Add(30 * time.Second); grandchild == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shell never started its background child")
		}
		b, _ := os.ReadFile(pidFile)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Wait returned nil for a killed command")
		}
	case <-time.After(WaitDelay + 20*time.Second):
		syscall.Kill(grandchild, syscall.SIGKILL)
		t.Fatal("Wait did not return after cancel: the grandchild holds the pipe")
	}
	for deadline := time.Now().Add(10 * time.Second); alive(grandchild); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(grandchild, syscall.SIGKILL)
			t.Fatalf("grandchild %d still runs after cancel", grandchild)
		}
	}
}

// A command that ends by itself is unaffected: its output and exit status
// are the child's.
func TestCommandRunsNormally(t *testing.T) {
	out, err := Command(t.Context(), "sh", "-c", "echo hi; exit 3").Output()
	var ee *exec.ExitError
	if string(out) != "hi\n" || !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("output %q, err %v; want \"hi\\n\" and exit status 3", out, err)
	}
}

// envParent makes this test binary the parent of TestParentHelper's
// command, which the test then kills with SIGKILL.
const envParent = "KMODVM_PROC_TEST_PARENT"

// TestParentHelper, when this binary runs as the parent, starts a command
// that writes its pid to the file the environment names and waits.
func TestParentHelper(t *testing.T) {
	pidFile := os.Getenv(envParent)
	if pidFile == "" {
		t.Skip("the parent of TestCommandDiesWithItsParent")
	}
	if err := Command(context.Background(), "sh", "-c", "echo $$ > "+pidFile+"; exec sleep 300").Run(); err != nil {
		t.Fatal(err)
	}
}

// A parent killed with SIGKILL cancels nothing: the command dies of its
// parent-death signal.
func TestCommandDiesWithItsParent(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(os.Args[0], "-test.run=^TestParentHelper$")
	parent.Env = append(os.Environ(), envParent+"="+pidFile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(30 * time.Second); child == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			parent.Process.Kill()
			t.Fatal("the command never started")
		}
		b, _ := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	for deadline := time.Now().Add(5 * time.Second); alive(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("command %d outlived its killed parent", child)
		}
	}
}
