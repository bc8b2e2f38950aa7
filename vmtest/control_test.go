package vmtest_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// The agent in command mode (RunConfig.Control) waits after boot for the
// host's commands on the control port and answers each: a file read, a
// test binary run by name (its events still on the event port), the
// blocked task and CPU dumps, and the power-off that ends the VM.
func TestControlChannelDrivesTheAgent(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	vm, events := startControlled(t, k)
	ctl := event.NewClient(vm.Port("control"))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	ready, err := ctl.Ready(ctx)
	if err != nil {
		t.Fatalf("agent never got ready: %v", err)
	}
	if ready.Kernel != k.ABI {
		t.Errorf("ready from kernel %q, want %q", ready.Kernel, k.ABI)
	}

	rep, err := ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: "/proc/version"})
	if err != nil || !strings.HasPrefix(string(rep.Data), "Linux version "+k.ABI) || rep.Truncated {
		t.Errorf("read /proc/version: %q (truncated %v), %v", rep.Data, rep.Truncated, err)
	}
	rep, err = ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: "/proc/version", Max: 5})
	if err != nil || string(rep.Data) != "Linux" || !rep.Truncated {
		t.Errorf("read 5 bytes of /proc/version: %q (truncated %v), %v", rep.Data, rep.Truncated, err)
	}
	if _, err := ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: "/no/such/file"}); err == nil {
		t.Error("reading a missing file succeeded")
	}

	rep, err = ctl.Do(ctx, event.Command{Op: event.OpRun, Tests: []string{"steady"}, Args: []string{"-test.run=^TestAPass$"}})
	if err != nil || len(rep.Results) != 1 || rep.Results[0].Exit == nil || rep.Results[0].Exit.Code != 0 {
		t.Fatalf("run steady: %+v, %v", rep.Results, err)
	}
	if _, err := ctl.Do(ctx, event.Command{Op: event.OpRun, Tests: []string{"nosuch"}}); err == nil {
		t.Error("running a binary the image lacks succeeded")
	}

	rep, err = ctl.Do(ctx, event.Command{Op: event.OpBlockedTasks})
	if err != nil || !strings.Contains(rep.Text, "Show Blocked State") {
		t.Errorf("blocked tasks: %q, %v", rep.Text, err)
	}

	rep, err = ctl.Do(ctx, event.Command{Op: event.OpCPUs})
	if err != nil || !strings.Contains(rep.Text, "backtrace of all active CPUs") {
		t.Errorf("CPUs: %q, %v", rep.Text, err)
	}

	if _, err := ctl.Do(ctx, event.Command{Op: event.OpPowerOff}); err != nil {
		t.Errorf("power off: %v", err)
	}
	res, err := vm.Wait()
	if err != nil || res.Exit != qemu.ExitPoweroff {
		t.Fatalf("VM ended %s, %v; want poweroff: %s", res.Exit, err, res.Stderr)
	}

	// The run's events arrived on their own port: the test, then Done.
	evs := events()
	var passed, done bool
	for _, ev := range evs {
		switch {
		case ev.Type == event.Test && ev.Test.Action == "pass" && ev.Test.Test == "TestAPass":
			passed = true
		case ev.Type == event.Done:
			done = ev.Err == ""
		}
	}
	if !passed || !done {
		t.Errorf("events lack TestAPass's pass (%v) or a clean Done (%v): %d events", passed, done, len(evs))
	}
}

// startControlled boots k with the agent in command mode and the steady
// test package in the image. The returned function gives the events read
// once the VM has ended.
func startControlled(t *testing.T, k *kernel.Kernel) (*qemu.VM, func() []event.Event) {
	t.Helper()
	dir := t.TempDir()
	b := &initramfs.Builder{Arch: k.Arch}
	base, err := b.Base(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	layers, bins, err := b.Tests(t.Context(), []initramfs.TestPackage{{Dir: hostfaults + "steady"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range bins {
		bins[i].Timeout = event.Duration(time.Minute)
	}
	run := filepath.Join(dir, "run.cpio")
	if err := initramfs.WriteRun(run, event.RunConfig{Tests: bins, Control: true}); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "initramfs.cpio")
	if err := initramfs.Concat(image, append(append([]string{base}, layers...), run)...); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	var evs []event.Event
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dec := event.NewDecoder(pr)
		for {
			ev, err := dec.Next()
			if err != nil {
				io.Copy(io.Discard, pr)
				return
			}
			evs = append(evs, ev)
		}
	}()
	console := &strings.Builder{}
	var consoleMu sync.Mutex
	vm, err := qemu.Start(t.Context(), qemu.Config{
		Arch:   k.Arch,
		Kernel: k.BootImage(),
		Initrd: image,
		Serial: []qemu.Port{
			{Name: "console", Output: writerFunc(func(p []byte) (int, error) {
				consoleMu.Lock()
				defer consoleMu.Unlock()
				return console.Write(p)
			})},
			{Name: "events", Output: pw, Param: event.ParamEvents},
			{Name: "control", Duplex: true, Param: event.ParamControl},
		},
		Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Kill()
		vm.Wait()
		pw.Close()
		if t.Failed() {
			consoleMu.Lock()
			t.Logf("console:\n%s", console.String())
			consoleMu.Unlock()
		}
	})
	return vm, func() []event.Event {
		vm.Wait()
		pw.Close()
		wg.Wait()
		return evs
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
