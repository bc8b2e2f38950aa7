// Package proc starts host subprocesses (make and gcc, go build, apt, dpkg,
// debootstrap) so that cancelling one ends all of it. exec.CommandContext
// alone kills only the direct child: make's compilers, or go's, live on,
// holding the output pipes open, and Wait blocks until they finish.
package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// WaitDelay bounds how long Wait waits, after the process group was killed
// or the child exited, for the child's output pipes to close: a grandchild
// that left the group (setsid) must not hold a run up.
const WaitDelay = 5 * time.Second

// Command is exec.CommandContext with the child leading a process group of
// its own, which is killed whole (SIGKILL) when ctx is done, and killed
// itself (its parent-death signal, SIGKILL) when kmodvm dies however it
// dies, a SIGKILL included, which runs no cancel. A child that starts
// children of its own that must die with it (make's compilers) needs a
// leader that kills its group on that signal: see toolchain.Command.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = WaitDelay
	return cmd
}

func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
