package qemu

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A duplex port carries bytes both ways while the VM runs, its guest
// device named through Param; the monitor answers meanwhile, and Kill ends
// the VM as canceled.
func TestStartDuplexPortAndMonitor(t *testing.T) {
	var console syncBuffer
	cfg := Config{Kernel: testKernel(t), Initrd: testInitramfs(t), Append: []string{"kmodvmtest=echo"},
		Serial: []Port{{Name: "console", Output: &console}, {Name: "events"},
			{Name: "control", Duplex: true, Param: "kmodvmtest.control"}},
		Timeout: vmTimeout}
	vm, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer vm.Wait()
	defer vm.Kill()
	ctl := vm.Port("control")
	if ctl == nil || vm.Port("console") != nil {
		t.Fatalf("Port(control) = %v, Port(console) = %v: want only the duplex port", ctl, vm.Port("console"))
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(ctl)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("guest said %q, want %q; console:\n%s", got, want, console.String())
			}
		case <-time.After(vmTimeout):
			t.Fatalf("guest never said %q; console:\n%s", want, console.String())
		}
	}
	expect("ready")
	status, err := vm.QMP("query-status", nil)
	if err != nil || !strings.Contains(string(status), `"running"`) {
		t.Errorf("query-status = %s, %v; want running", status, err)
	}
	if regs, err := vm.HumanMonitorCommand("info registers"); err != nil || !strings.Contains(regs, "RIP=") {
		t.Errorf("info registers = %.80q, %v", regs, err)
	}
	// Longer than the UART's 16-byte FIFO: QEMU must pace it, not drop it.
	long := strings.Repeat("0123456789", 40)
	fmt.Fprintf(ctl, "%s\n", long)
	expect("echo: " + long)
	vm.Kill()
	res, err := vm.Wait()
	if err != nil || res.Exit != ExitCanceled {
		t.Errorf("after Kill: exit %s, %v; want canceled", res.Exit, err)
	}
	if _, err := vm.QMP("query-status", nil); err == nil {
		t.Error("QMP answered after the VM ended")
	}
}
