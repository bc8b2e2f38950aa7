package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// gdbSections are the sections whose addresses gdb is given; .text first.
var gdbSections = []string{".text", ".init.text", ".exit.text", ".text.unlikely", ".rodata", ".data", ".bss"}

// interactivePorts are the ports an interactive VM of c adds to the
// console and events.
func interactivePorts(c *runcfg.Config) []qemu.Port {
	if !c.Interactive() {
		return nil
	}
	ports := []qemu.Port{{Name: "control", Duplex: true, Param: event.ParamControl}}
	if c.Shell != nil {
		ports = append(ports, qemu.Port{Name: "shell", Duplex: true, Param: event.ParamShell})
	}
	return ports
}

// gdbChardev is QEMU's -gdb argument for c.GDB ("127.0.0.1:1234").
func gdbChardev(c *runcfg.Config) string {
	if c.GDB == "" {
		return ""
	}
	return "tcp:" + c.GDB
}

// runVM runs the VM of img to its end, driving it when a person is
// involved.
func (run *kernelRun) runVM(ctx context.Context, qcfg qemu.Config, img *guestImage) (*qemu.Result, error) {
	vm, err := qemu.Start(ctx, qcfg)
	if err != nil {
		return nil, err
	}
	if !run.r.cfg.Interactive() {
		return vm.Wait()
	}
	// The driver may wait for a person: the VM's end ends that wait.
	dctx, cancel := context.WithCancel(ctx)
	drove := make(chan error, 1)
	go func() { drove <- run.drive(dctx, vm, img) }()
	res, err := vm.Wait()
	cancel()
	// A VM that ended by itself (a panic in the shell's command) explains
	// the driver's failure; one the driver killed does not.
	if derr := <-drove; derr != nil && err == nil && res.Exit == qemu.ExitCanceled && ctx.Err() == nil {
		err = derr
	}
	return res, err
}

// drive takes an interactive VM from the agent's readiness to its power-off:
// the debugger's stop, then the shell or the tests. Any failure ends the VM.
func (run *kernelRun) drive(ctx context.Context, vm *qemu.VM, img *guestImage) error {
	ctl := event.NewClient(vm.Port("control"))
	if _, err := ctl.Ready(ctx); err != nil {
		vm.Kill()
		return fmt.Errorf("the agent never took commands: %w", err)
	}
	err := run.driveReady(ctx, ctl, vm, img)
	if err != nil {
		vm.Kill()
		return err
	}
	return nil
}

func (run *kernelRun) driveReady(ctx context.Context, ctl *event.Client, vm *qemu.VM, img *guestImage) error {
	cfg := run.r.cfg
	if cfg.GDB != "" && cfg.OnDebugger != nil {
		if err := cfg.OnDebugger(ctx, run.debugger(ctx, ctl, vm, img)); err != nil {
			return fmt.Errorf("debugger: %w", err)
		}
	}
	if t := cfg.Shell; t != nil {
		port := vm.Port("shell")
		go io.Copy(port, t.In)
		copied := make(chan struct{})
		go func() { io.Copy(t.Out, port); close(copied) }()
		// Each test binary (TestsDir/<name>/<name>.test) is on PATH.
		path := []string{initramfs.ShellBin}
		for _, tb := range img.run.Tests {
			path = append(path, filepath.Dir(tb.Path))
		}
		_, err := ctl.Do(ctx, event.Command{Op: event.OpShell, Shell: initramfs.ShellPath,
			Env: append([]string{"PATH=" + strings.Join(append(path, "/bin"), ":")}, t.Env...), Rows: t.Rows, Cols: t.Cols})
		if err != nil {
			return fmt.Errorf("shell: %w", err)
		}
	} else if _, err := ctl.Do(ctx, event.Command{Op: event.OpRun}); err != nil {
		return fmt.Errorf("tests: %w", err)
	}
	if _, err := ctl.Do(ctx, event.Command{Op: event.OpPowerOff}); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("power off: %w", err)
	}
	return nil
}

// debugger is how to attach gdb to vm, stopped with the modules of img
// loaded: each module's section addresses, read in the guest.
func (run *kernelRun) debugger(ctx context.Context, ctl *event.Client, vm *qemu.VM, img *guestImage) runcfg.Debugger {
	k := run.k
	d := runcfg.Debugger{Kernel: k.Name, Address: run.r.cfg.GDB, GDB: vm.Arch().GDB, Vmlinux: debugVmlinux(k)}
	for _, m := range img.run.Modules {
		if m.Dep {
			continue
		}
		host := hostModule(img.modules, m.Path)
		dm := runcfg.DebugModule{Name: m.Name, Path: host.Path, BuildDir: host.BuildDir, Source: host.Source, Sections: map[string]uint64{}}
		for _, s := range gdbSections {
			p := "/sys/module/" + moddep.Name(m.Name) + "/sections/" + s
			rep, err := ctl.Do(ctx, event.Command{Op: event.OpReadFile, Path: p})
			if err != nil {
				continue
			}
			if a, err := strconv.ParseUint(strings.TrimSpace(string(rep.Data)), 0, 64); err == nil && a != 0 {
				dm.Sections[s] = a
			}
		}
		if a := vm.Arch(); a.GDBLink && dm.Path != "" {
			var err error
			if dm.Linked, err = linkForGDB(ctx, a, dm, filepath.Join(run.dir, "gdb")); err != nil {
				run.r.logf("%s: %s: the module's lines in gdb will be wrong: %v", k.Name, m.Name, err)
			}
		}
		d.Modules = append(d.Modules, dm)
	}
	d.Command = debuggerCommand(d)
	return d
}

// hostModule is the host's .ko of the guest's module path.
func hostModule(built []symbol.Module, guestPath string) symbol.Module {
	for _, m := range built {
		if filepath.Base(m.Path) == filepath.Base(guestPath) {
			return m
		}
	}
	return symbol.Module{}
}

// debuggerCommand is one gdb invocation that attaches d with every symbol
// at hand.
func debuggerCommand(d runcfg.Debugger) string {
	gdb := d.GDB
	if gdb == "" {
		gdb = "gdb"
	}
	args := []string{gdb, "-q", "-ex", "set confirm off", "-ex", "set pagination off"}
	if d.Vmlinux != "" {
		args = append(args, d.Vmlinux)
	} else if bigEndian(d.Modules) {
		// With no executable gdb-multiarch takes the host's byte order
		// even for an s390 target: it reads every register backwards and
		// never sees its breakpoint's address as the PC.
		args = append(args, "-ex", "set endian big")
	}
	args = append(args, "-ex", "target remote "+d.Address)
	for _, m := range d.Modules {
		text, ok := m.Sections[".text"]
		if m.Path == "" || !ok {
			continue
		}
		cmd := fmt.Sprintf("add-symbol-file %s %#x", m.Path, text)
		for _, s := range gdbSections[1:] {
			if a, ok := m.Sections[s]; ok {
				cmd += fmt.Sprintf(" -s %s %#x", s, a)
			}
		}
		if m.Linked != "" {
			cmd = "add-symbol-file " + m.Linked
		}
		args = append(args, "-ex", cmd)
		if m.BuildDir != "" && m.Source != "" {
			if src, err := filepath.Abs(m.Source); err == nil {
				args = append(args, "-ex", "set substitute-path "+m.BuildDir+" "+src)
			}
		}
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
