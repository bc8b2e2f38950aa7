package run

import (
	"context"
	"errors"
	"fmt"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// interactiveTimeout bounds a VM that waits for a person.
const interactiveTimeout = 24 * time.Hour

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

// runVM runs the VM to its end, driving it when a person is involved.
func (r *runner) runVM(ctx context.Context, qcfg qemu.Config, k *kernel.Kernel, img *guestImage, dir string) (*qemu.Result, error) {
	vm, err := qemu.Start(ctx, qcfg)
	if err != nil {
		return nil, err
	}
	if !r.cfg.Interactive() {
		return vm.Wait()
	}
	// The driver may wait for a person: the VM's end ends that wait.
	dctx, cancel := context.WithCancel(ctx)
	drove := make(chan error, 1)
	go func() { drove <- r.drive(dctx, vm, k, img.run, img.modules, dir) }()
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
func (r *runner) drive(ctx context.Context, vm *qemu.VM, k *kernel.Kernel, cfg event.RunConfig, built []symbol.Module, dir string) error {
	ctl := event.NewClient(vm.Port("control"))
	if _, err := ctl.Ready(ctx); err != nil {
		vm.Kill()
		return fmt.Errorf("the agent never took commands: %w", err)
	}
	err := r.driveReady(ctx, ctl, vm, k, cfg, built, dir)
	if err != nil {
		vm.Kill()
		return err
	}
	return nil
}

func (r *runner) driveReady(ctx context.Context, ctl *event.Client, vm *qemu.VM, k *kernel.Kernel, cfg event.RunConfig, built []symbol.Module, dir string) error {
	if r.cfg.GDB != "" && r.cfg.OnDebugger != nil {
		d := runcfg.Debugger{Kernel: k.Name, Address: r.cfg.GDB, GDB: vm.Arch().GDB, Vmlinux: debugVmlinux(k)}
		for _, m := range cfg.Modules {
			if m.Dep {
				continue
			}
			host := hostModule(built, m.Path)
			dm := runcfg.DebugModule{Name: m.Name, Path: host.Path, BuildDir: host.BuildDir, Source: host.Source, Sections: map[string]uint64{}}
			for _, s := range gdbSections {
				p := "/sys/module/" + strings.ReplaceAll(m.Name, "-", "_") + "/sections/" + s
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
				if dm.Linked, err = linkForGDB(ctx, a, dm, filepath.Join(dir, "gdb")); err != nil {
					r.logf("%s: %s: the module's lines in gdb will be wrong: %v", k.Name, m.Name, err)
				}
			}
			d.Modules = append(d.Modules, dm)
		}
		d.Command = debuggerCommand(d)
		if err := r.cfg.OnDebugger(ctx, d); err != nil {
			return fmt.Errorf("debugger: %w", err)
		}
	}
	if t := r.cfg.Shell; t != nil {
		port := vm.Port("shell")
		go io.Copy(port, t.In)
		copied := make(chan struct{})
		go func() { io.Copy(t.Out, port); close(copied) }()
		// Each test binary (TestsDir/<name>/<name>.test) is on PATH.
		path := []string{initramfs.ShellBin}
		for _, tb := range cfg.Tests {
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
