// Command init is the trivial PID 1 of the qemu package's tests: it does what
// the kernel parameter kmodvmtest= says (the kernel passes unknown name=value
// parameters to init as environment variables) and never returns.
package main

import (
	"bytes"
	"fmt"
	"os"
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
	default:
		fmt.Printf("init: unknown mode %q\n", mode)
	}
	poweroff()
}

// events writes a line to the event port, ttyS1.
func events() {
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil {
		fmt.Println("init: mount /dev:", err)
		return
	}
	f, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Println("init: open ttyS1:", err)
		return
	}
	fmt.Fprintln(f, "hello from ttyS1")
	f.Close()
}

// kallsyms copies the kernel's text symbols to the event port, in
// System.map format.
func kallsyms() {
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		fmt.Println("init: mount /proc:", err)
		return
	}
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
	if err := unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err != nil {
		fmt.Println("init: mount /dev:", err)
		return
	}
	if err := os.WriteFile("/dev/ttyS1", out.Bytes(), 0); err != nil {
		fmt.Println("init: write ttyS1:", err)
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
