// Command floorinit is the floor of kmodvm's benchmark: a static /init that
// powers the VM off at once, so that booting it measures the kernel and
// QEMU alone.
package main

import "golang.org/x/sys/unix"

func main() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}
