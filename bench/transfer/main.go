// Command transfer measures how fast files reach a guest at the agent's
// idle point (docs/snapshots.md): a command line over the 16550 control
// port both ways, and a cpio archive through the shared memory
// (ivshmem-plain) unpacked into the guest's root. Usage:
//
//	go run ./bench/transfer <vmlinux> <base.cpio>
//
// where base.cpio is a base image layer whose agent knows kmodvm.idle.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: transfer <vmlinux> <base.cpio>")
		os.Exit(2)
	}
	kernel, base := os.Args[1], os.Args[2]
	cfg := qemu.Config{Kernel: kernel, Initrd: base, Accel: qemu.AccelTCG,
		Serial: []qemu.Port{{Name: "console"}, {Name: "events", Param: event.ParamEvents},
			{Name: "control", Duplex: true, Param: event.ParamControl}},
		Append: []string{event.ParamIdle + "=1"}, ShareMiB: 64, Timeout: 5 * time.Minute}
	ctx := context.Background()
	vm, err := qemu.Start(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer func() { vm.Kill(); vm.Wait() }()
	ctl := event.NewClient(vm.Port("control"))
	if _, err := ctl.Ready(ctx); err != nil {
		panic(err)
	}
	// The first command after the boot translates the paths (TCG).
	ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: "/proc/version"})
	for _, n := range []int{256 << 10, 1 << 20} {
		// host -> guest: a command line of n bytes (the path), answered with an error
		t := time.Now()
		ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: "/" + strings.Repeat("x", n)})
		d := time.Since(t)
		fmt.Printf("16550 host->guest: %d bytes in %v: %.0f KB/s\n", n, d, float64(n)/d.Seconds()/1000)
		// guest -> host: n bytes of /dev/zero, base64 in JSON (4/3)
		t = time.Now()
		rep, err := ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: "/dev/zero", Max: n})
		d = time.Since(t)
		fmt.Printf("16550 guest->host: %d bytes (%d on the wire) in %v: %.0f KB/s wire (%v)\n", len(rep.Data), len(rep.Data)*4/3, d, float64(len(rep.Data)*4/3)/d.Seconds()/1000, err)
	}
	// shared memory: a cpio of one 16 MiB file
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var b strings.Builder
	hdr := func(name string, mode, size int) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	hdr("tmp/big", 0o100644, len(data))
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	hdr("TRAILER!!!", 0, 0)
	arc := []byte(b.String())
	for i := 0; i < 3; i++ {
		t := time.Now()
		vm.Share().WriteAt(arc, 0)
		_, err = ctl.Do(ctx, event.Command{Op: event.OpUnpack, Size: int64(len(arc))})
		d := time.Since(t)
		fmt.Printf("shared memory: %d bytes written and unpacked to a file in %v: %.1f MB/s (%v)\n", len(arc), d, float64(len(arc))/d.Seconds()/1e6, err)
	}
}
