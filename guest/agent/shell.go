package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

// shell runs cmd.Shell on the shell port until it exits. The shell leads a
// session of its own whose controlling terminal is the port, so that ^C
// and ^Z reach its foreground job, not the agent; the port is a terminal
// in the kernel's usual cooked mode, at the size the host's has. A port
// that is no terminal (arm64's virtio-serial ports) is relayed to and from
// a pseudo-terminal that the shell gets instead.
func (a *Agent) shell(cmd event.Command) (*event.Exit, error) {
	if a.shellDev == "" {
		return nil, fmt.Errorf("the kernel command line names no shell port (%s)", event.ParamShell)
	}
	if cmd.Shell == "" {
		return nil, errors.New("no shell given")
	}
	tty, err := openTerminal(a.shellDev, cmd.Rows, cmd.Cols)
	var relay *ptyRelay
	if errors.Is(err, unix.ENOTTY) {
		relay, err = newPtyRelay(a.shellDev, cmd.Rows, cmd.Cols)
		if relay != nil {
			tty = relay.tty
		}
	}
	if err != nil {
		return nil, err
	}
	if relay != nil {
		defer relay.close()
	} else {
		defer tty.Close()
	}
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
	if err := setCooked(fd, rows, cols); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// setCooked puts the terminal fd in cooked mode at rows x cols.
func setCooked(fd, rows, cols int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("get termios: %w", err)
	}
	t.Iflag |= unix.ICRNL | unix.IXON
	t.Oflag |= unix.OPOST | unix.ONLCR
	t.Lflag |= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CBAUD
	t.Cflag |= unix.B115200 | unix.CS8 | unix.CLOCAL | unix.CREAD
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("set cooked mode: %w", err)
	}
	if rows > 0 && cols > 0 {
		_ = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	}
	return nil
}

// ptyRelay copies between a port that is no terminal and the master of a
// pseudo-terminal whose slave, tty, the shell runs on.
type ptyRelay struct {
	port, ptmx, tty *os.File
	out             chan struct{} // closed when the shell's output is all sent
}

func newPtyRelay(path string, rows, cols int) (*ptyRelay, error) {
	// Blocking, as the serial ports are (os.NewFile of a blocking
	// descriptor keeps it out of the runtime's poller): a virtio port's
	// write then waits in the kernel until the host has taken what was
	// written before.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	port := os.NewFile(uintptr(fd), path)
	ptmx, tty, err := pty.Open()
	if err != nil {
		port.Close()
		return nil, fmt.Errorf("shell port %s is no terminal, and no pseudo-terminal for it (devpts): %w", path, err)
	}
	if err := setCooked(int(tty.Fd()), rows, cols); err != nil {
		port.Close()
		ptmx.Close()
		tty.Close()
		return nil, fmt.Errorf("%s: %w", tty.Name(), err)
	}
	r := &ptyRelay{port: port, ptmx: ptmx, tty: tty, out: make(chan struct{})}
	go io.Copy(ptmx, port)
	go func() { io.Copy(port, ptmx); close(r.out) }()
	return r, nil
}

// close sends what the shell wrote last (the master reads it until every
// slave is closed) and ends the relay. The copy from the port may stay
// blocked in its read, which nothing else uses after the shell.
func (r *ptyRelay) close() {
	r.tty.Close()
	select {
	case <-r.out:
	case <-time.After(2 * time.Second): // a background job keeps the slave
	}
	r.ptmx.Close()
	r.port.Close()
}
