// Command init is the trivial PID 1 of the qemu package's tests: it does what
// the kernel parameter kmodvmtest= says (the kernel passes unknown name=value
// parameters to init as environment variables) and never returns. Its
// channels are the devices named by kmodvmtest.events= and
// kmodvmtest.control= (dotted parameters stay on /proc/cmdline only), as
// qemu.Port.Param sets them.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	mode := os.Getenv("kmodvmtest")
	fmt.Printf("init: mode %q\n", mode)
	switch mode {
	case "poweroff":
	case "events":
		events()
	case "kallsyms":
		kallsyms()
	case "panic":
		sysrq('c')
	case "hang":
		hang()
	case "echo":
		echo()
	case "ivshmem":
		ivshmem()
		hang()
	default:
		fmt.Printf("init: unknown mode %q\n", mode)
	}
	poweroff()
}

// events writes a line to the event port.
func events() {
	dev := param("kmodvmtest.events")
	f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Println("init: open event port:", err)
		return
	}
	fmt.Fprintln(f, "hello from "+dev)
	f.Close()
}

// echo answers the host on the control port: "ready", then each line read
// back as "echo: <line>" until a line "bye".
func echo() {
	dev := param("kmodvmtest.control")
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Println("init: open control port:", err)
		return
	}
	if err := raw(f); err != nil {
		fmt.Println("init: raw mode:", err)
		return
	}
	fmt.Fprintln(f, "ready")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fmt.Fprintln(f, "echo: "+sc.Text())
		if sc.Text() == "bye" {
			break
		}
	}
	unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
}

// raw turns off the line discipline's echo and translations.
func raw(f *os.File) error {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.ICRNL | unix.IXON | unix.IXOFF | unix.INLCR | unix.IGNCR
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

// param returns the value of a name=value kernel parameter, mounting what
// it needs to read it (and the devices it names).
func param(name string) string {
	unix.Mount("proc", "/proc", "proc", 0, "")
	unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		fmt.Println("init: cmdline:", err)
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	fmt.Printf("init: no %s= on the command line\n", name)
	return ""
}

// kallsyms copies the kernel's text symbols to the event port, in
// System.map format.
func kallsyms() {
	dev := param("kmodvmtest.events")
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		fmt.Println("init: kallsyms:", err)
		return
	}
	var out bytes.Buffer
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 3 && (f[1][0] == 't' || f[1][0] == 'T') {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	if err := os.WriteFile(dev, out.Bytes(), 0); err != nil {
		fmt.Println("init: write event port:", err)
	}
}

func sysrq(c byte) {
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		fmt.Println("init: mount /proc:", err)
		return
	}
	if err := os.WriteFile("/proc/sysrq-trigger", []byte{c}, 0); err != nil {
		fmt.Println("init: sysrq:", err)
	}
}

// ivshmem enables the ivshmem device, as kmodvm's agent does to map its
// memory (without a driver or firmware that did, an arm64 guest leaves
// its memory decoding off, and QEMU reports no BAR address), then prints
// its sysfs resource file, each line prefixed "init: ivshmem resource: ",
// then "init: ivshmem done": the BARs as the guest's PCI setup placed
// them, for the host to compare with QEMU's view of the same VM.
func ivshmem() {
	os.Mkdir("/sys", 0o755)
	unix.Mount("sysfs", "/sys", "sysfs", 0, "")
	devs, _ := filepath.Glob("/sys/bus/pci/devices/*")
	for _, d := range devs {
		v, _ := os.ReadFile(filepath.Join(d, "vendor"))
		id, _ := os.ReadFile(filepath.Join(d, "device"))
		if strings.TrimSpace(string(v)) != "0x1af4" || strings.TrimSpace(string(id)) != "0x1110" {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, "enable"), []byte("1"), 0); err != nil {
			fmt.Println("init: ivshmem:", err)
		}
		b, err := os.ReadFile(filepath.Join(d, "resource"))
		if err != nil {
			fmt.Println("init: ivshmem:", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			fmt.Println("init: ivshmem resource: " + line)
		}
	}
	fmt.Println("init: ivshmem done")
}

// hang idles forever without letting the Go runtime see a deadlock (which
// would end init and panic the kernel).
func hang() {
	for {
		time.Sleep(time.Hour)
	}
}

func poweroff() {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Println("init: poweroff:", err)
	}
	hang()
}
