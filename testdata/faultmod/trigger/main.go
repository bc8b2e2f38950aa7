// Command trigger is a PID 1 that loads /faultmod.ko and triggers one of its
// faults, for capturing real kernel logs. The kernel parameter faultmod=NAME
// (passed to init as an environment variable) names the fault; every
// /dev/kmsg record is copied raw to the event port (ttyS1).
//
// Faults run in a child process: an Oops kills the process that caused it,
// and that must not be PID 1.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl numbers, from faultmod.h: _IO and _IOW of magic 'F', encoded with
// the layout of the architecture the trigger is built for (ioc_*.go).
var ioctls = map[string]uintptr{
	"warn":       io(0x01),
	"oops":       io(0x02),
	"bug":        io(0x03),
	"panic":      io(0x04),
	"softlockup": io(0x07),
	"rcustall":   io(0x0f),
	"atomic":     io(0x08),
	"leak":       io(0x09),
	"usercopy":   iow(0x0a, 16),
	"overflow":   iow(0x0e, 16),
	"gpf":        io(0x0b),
	"list":       io(0x0c),
	"refcount":   io(0x0d),
}

var (
	hangRead = io(0x05)
	release  = io(0x06)
)

// io is _IO('F', nr) and iow _IOW('F', nr, a type of size bytes).
func io(nr uintptr) uintptr { return iocNone<<iocDirShift | 'F'<<8 | nr }
func iow(nr, size uintptr) uintptr {
	return iocWrite<<iocDirShift | size<<16 | 'F'<<8 | nr
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "child" {
		if err := child(os.Args[2]); err != nil {
			fmt.Println("trigger child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Getenv("faultmod")); err != nil {
		fmt.Println("trigger:", err)
	}
	time.Sleep(500 * time.Millisecond) // let the kmsg copier catch up
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func run(fault string) error {
	for _, m := range [][3]string{{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}} {
		if err := unix.Mount(m[0], m[1], m[2], 0, ""); err != nil {
			return fmt.Errorf("mount %s: %w", m[1], err)
		}
	}
	go copyKmsg()
	params := ""
	if fault == "initfail" {
		params = "fail_init=1"
	}
	if err := load("/faultmod.ko", params); err != nil {
		fmt.Println("trigger: load faultmod:", err)
		return nil
	}
	fmt.Println("trigger: fault", fault)
	cmd := exec.Command("/init", "child", fault)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	wait := 5 * time.Second
	switch fault {
	case "hang":
		wait = 35 * time.Second // hung_task_timeout_secs=10 reports within 20 s
	case "softlockup", "rcustall":
		wait = 60 * time.Second
	}
	select {
	case err := <-done:
		fmt.Println("trigger: child:", err)
	case <-time.After(wait):
		fmt.Println("trigger: child still running after", wait)
	}
	if fault == "leak" {
		err := unix.DeleteModule("faultmod", unix.O_NONBLOCK)
		fmt.Println("trigger: delete_module faultmod:", err)
	}
	return nil
}

func load(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), params, 0)
}

func child(fault string) error {
	f, err := os.OpenFile("/dev/faultmod", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := f.Fd()
	switch fault {
	case "hang":
		if err := ioctl(fd, hangRead, 0); err != nil {
			return err
		}
		_, err := unix.Read(int(fd), make([]byte, 1))
		return err
	case "usercopy", "overflow":
		// Copy 64 bytes out of a 16-byte object into a 4 KiB buffer.
		buf := make([]byte, 4096)
		req := &[2]uint64{uint64(uintptr(unsafe.Pointer(&buf[0]))), 64}
		err := ioctlPtr(fd, ioctls[fault], unsafe.Pointer(req))
		runtime.KeepAlive(buf)
		return err
	}
	nr, ok := ioctls[fault]
	if !ok {
		return fmt.Errorf("unknown fault %q", fault)
	}
	arg := uintptr(0)
	if s := os.Getenv("faultmod_arg"); s != "" {
		v, _ := strconv.Atoi(s)
		arg = uintptr(v)
	}
	return ioctl(fd, nr, arg)
}

func ioctl(fd, req, arg uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, arg); errno != 0 {
		return fmt.Errorf("ioctl %#x: %w", req, errno)
	}
	return nil
}

func ioctlPtr(fd, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return fmt.Errorf("ioctl %#x: %w", req, errno)
	}
	return nil
}

// copyKmsg copies every /dev/kmsg record, in its raw
// "prio,seq,usec,flags;text" form, to ttyS1.
func copyKmsg() {
	in, err := os.Open("/dev/kmsg")
	if err != nil {
		fmt.Println("trigger: kmsg:", err)
		return
	}
	out, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Println("trigger: ttyS1:", err)
		return
	}
	rawTTY(int(out.Fd()))
	buf := make([]byte, 8192)
	for {
		n, err := in.Read(buf)
		if err == unix.EPIPE {
			continue // records overwritten before we read them
		}
		if err != nil {
			fmt.Println("trigger: read kmsg:", err)
			return
		}
		_, _ = out.Write(buf[:n])
	}
}

// rawTTY turns off output processing (\n to \r\n) on the event port.
func rawTTY(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag &^= unix.OPOST
	_ = unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
