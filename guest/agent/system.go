package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// mount is one file system the agent sets up.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	optional               bool // a kernel without it still runs tests
}

var mounts = []mount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, false},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, true},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, false},
	{"debugfs", "/sys/kernel/debug", "debugfs", 0, true},
}

// mountAll mounts what tests need. Already mounted targets (EBUSY) are fine.
func mountAll() []error {
	var errs []error
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil && !m.optional {
			errs = append(errs, fmt.Errorf("mkdir %s: %w", m.target, err))
			continue
		}
		err := unix.Mount(m.source, m.target, m.fstype, m.flags, "")
		if err != nil && !errors.Is(err, unix.EBUSY) && !m.optional {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err))
		}
	}
	return errs
}

// setupConsole makes /dev/console the agent's stdin, stdout and stderr. The
// kernel does this only if the image has a /dev/console node; devtmpfs
// always has one.
func setupConsole() error {
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open /dev/console: %w", err)
	}
	for i := 0; i <= 2; i++ {
		if err := unix.Dup2(fd, i); err != nil {
			return fmt.Errorf("dup console to fd %d: %w", i, err)
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
	return nil
}

// cmdline returns the kernel command line's name=value parameters.
func cmdline() map[string]string {
	params := map[string]string{}
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return params
	}
	for _, f := range strings.Fields(string(b)) {
		if name, value, ok := strings.Cut(f, "="); ok {
			params[name] = value
		}
	}
	return params
}

// openPort opens a serial port in raw mode: no echo, no CR/LF
// translation, no flow control, so bytes reach the host exactly as written.
// A virtio-serial port is no terminal and passes bytes as they are. Its
// device appears after its driver's load returned (the host announces the
// ports to the driver's work queue), and opens only once the driver has
// listed the port (ENXIO before): for up to wait, both are retried.
func openPort(path string, wait time.Duration) (*os.File, error) {
	if path == "" {
		return nil, errors.New("the kernel command line names no port")
	}
	deadline := time.Now().Add(wait)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	for (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENXIO)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if errors.Is(err, unix.ENOTTY) {
		return os.NewFile(uintptr(fd), path), nil
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("get termios of %s: %w", path, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD | unix.CRTSCTS
	t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD | unix.B115200
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set raw mode on %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// drain waits until everything written to the serial port has left it
// (tcdrain), so that powering off loses no event.
func drain(f *os.File) {
	unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
}

// writeFile writes a short control file such as /proc/sysrq-trigger.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// powerOff ends the VM. With QEMU's -no-reboot even a reboot ends it, which
// is the fallback if power-off fails.
func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}
