package agent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

// shell runs cmd.Shell on the shell port until it exits. The shell leads a
// session of its own whose controlling terminal is the port, so that ^C
// and ^Z reach its foreground job, not the agent; the port is a terminal
// in the kernel's usual cooked mode, at the size the host's has.
func (a *Agent) shell(cmd event.Command) (*event.Exit, error) {
	if a.shellDev == "" {
		return nil, fmt.Errorf("the kernel command line names no shell port (%s)", event.ParamShell)
	}
	if cmd.Shell == "" {
		return nil, errors.New("no shell given")
	}
	tty, err := openTerminal(a.shellDev, cmd.Rows, cmd.Cols)
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	c := exec.Command(cmd.Shell, cmd.Args...)
	c.Dir = "/"
	c.Env = append(append(append([]string{}, baseEnv...), "TERM=linux", event.EnvGuest+"=1",
		event.EnvConfig+"="+a.configPath), cmd.Env...)
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	start := time.Now()
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Shell, err)
	}
	waitErr := c.Wait()
	exit := &event.Exit{Code: c.ProcessState.ExitCode(), Elapsed: time.Since(start).Seconds()}
	describeExit(exit, c.ProcessState, waitErr)
	return exit, nil
}

// openTerminal opens path as a terminal in cooked mode (echo, line
// editing, signals, NL to CRNL on output) at 115200 baud, rows x cols.
func openTerminal(path string, rows, cols int) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get termios of %s: %w", path, err)
	}
	t.Iflag |= unix.ICRNL | unix.IXON
	t.Oflag |= unix.OPOST | unix.ONLCR
	t.Lflag |= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CBAUD
	t.Cflag |= unix.B115200 | unix.CS8 | unix.CLOCAL | unix.CREAD
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		f.Close()
		return nil, fmt.Errorf("set cooked mode on %s: %w", path, err)
	}
	if rows > 0 && cols > 0 {
		_ = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	}
	return f, nil
}
