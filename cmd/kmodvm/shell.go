package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type shellFlags struct {
	kernel string
	vm     vmFlags
}

func newShellCmd(g *globalFlags) *cobra.Command {
	f := &shellFlags{}
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Boot a kernel with the modules loaded and give a shell in the guest",
		Long: `Build the modules for one kernel, boot it in QEMU with the modules loaded and
the Go test packages' binaries in ` + initramfs.TestsDir + ` (on PATH), and run
u-root's shell (gosh) on this terminal, with dmesg, insmod, rmmod, lsmod, cat,
ls and more. Leaving the shell (exit) unloads the modules and powers the
VM off.

With --gdb, QEMU's gdb stub listens on the given address, and before the shell
starts kmodvm prints the gdb command that attaches with the kernel's and the
modules' symbols.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q (use --kernel, --module, --tests)", args)
			}
			return runShell(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.kernel, "kernel", "k", "6.1", "kernel selector: 6.1, 7.3-rt, 6.1-debug, a path")
	f.vm.add(fl, vmHelp{
		module:     "module source directory, loaded before the shell starts (repeatable)",
		tests:      "Go test package directory whose test binary is put in " + initramfs.TestsDir + " (repeatable)",
		kernelFlag: "kernel",
	})
	return cmd
}

func runShell(cmd *cobra.Command, g *globalFlags, f *shellFlags) error {
	stdin, stdout := os.Stdin, os.Stdout
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	t := &rawTerminal{in: stdin, out: stdout, escape: cancel}
	defer t.restore()
	shell := &vmtest.Terminal{In: t, Out: t, Env: []string{"TERM=" + os.Getenv("TERM")}}
	if cols, rows, err := term.GetSize(int(stdout.Fd())); err == nil {
		shell.Rows, shell.Cols = rows, cols
	}
	errOut := cmd.ErrOrStderr()
	cfg := vmtest.Config{
		Kernels: []string{f.kernel}, Arch: g.arch,
		CacheDir: g.cache, Offline: g.offline, Shell: shell,
		OnDebugger: waitForDebugger(errOut, stdin, "start the shell"),
		Progress: func(s vmtest.Step) {
			if s.Detail == "" && !g.quiet {
				fmt.Fprintf(errOut, "kmodvm: %s: %s\n", s.Kernel, shellPhase(s.Phase))
			}
		},
	}
	f.vm.apply(&cfg)
	if !g.quiet {
		cfg.Log = errOut
	}
	rep, err := vmtest.RunMatrix(ctx, cfg)
	t.restore()
	if err != nil {
		var ce *vmtest.ErrConfig
		if errors.As(err, &ce) {
			return usageError{err}
		}
		return err
	}
	k := rep.Kernels[0]
	fmt.Fprintln(errOut)
	for _, m := range k.Modules {
		if m.Load != report.Pass {
			fmt.Fprintf(errOut, "kmodvm: loading %s failed: %s\n", m.Name, m.Error)
		}
	}
	for _, fd := range k.Findings {
		if fd.Kind != "taint" {
			fmt.Fprintf(errOut, "kmodvm: 🐞 %s\n", fd.Reason())
		}
	}
	switch {
	case k.Build != nil && k.Build.Status == report.Fail:
		return &exitError{code: exitFailed, err: fmt.Errorf("build failed: %s (log: %s)", k.Build.Error, k.Build.Log)}
	case k.Boot == nil || k.Boot.Status == report.Error:
		return &exitError{code: exitInfra, err: errors.New(k.Error)}
	case k.Boot.Status != report.Pass:
		return &exitError{code: exitFailed, err: fmt.Errorf("the guest did not power off cleanly: %s", k.Boot.Error)}
	}
	fmt.Fprintf(errOut, "kmodvm: %s powered off\n", k.Name)
	return nil
}

func shellPhase(p vmtest.Phase) string {
	switch p {
	case vmtest.PhaseBoot:
		return "booting; leave the shell with exit (^] ends a guest that no longer answers)"
	case vmtest.PhaseTests:
		return "the agent is up"
	}
	return string(p)
}

// waitForDebugger returns a Config.OnDebugger that prints the gdb command
// and waits for Enter on in, or for the VM's end.
func waitForDebugger(w io.Writer, in *os.File, next string) func(context.Context, vmtest.Debugger) error {
	return func(ctx context.Context, d vmtest.Debugger) error {
		fmt.Fprintf(w, "\nkmodvm: %s is stopped before the tests; QEMU's gdb stub is on %s.\n", d.Kernel, d.Address)
		if d.Vmlinux == "" {
			fmt.Fprintf(w, "kmodvm: this kernel has no vmlinux with symbols: gdb knows the modules' only.\n")
		}
		fmt.Fprintf(w, "kmodvm: attach gdb with:\n\n  %s\n\nkmodvm: then press Enter here to %s.\n", d.Command, next)
		line := make(chan error, 1)
		// Byte by byte: what follows the line is the shell's.
		go func() {
			b := make([]byte, 1)
			for {
				if _, err := in.Read(b); err != nil || b[0] == '\n' || b[0] == '\r' {
					line <- err
					return
				}
			}
		}()
		select {
		case err := <-line:
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// escapeByte (^], telnet's) typed on the terminal ends the VM: the way
// out of a guest that no longer reads its shell's port.
const escapeByte = 0x1d

// rawTerminal puts in's terminal in raw mode at the first read or write,
// so that what comes before (progress, the debugger's prompt) prints in
// the usual mode; restore undoes it. Not a terminal: passed through.
type rawTerminal struct {
	in, out *os.File
	escape  func()
	once    sync.Once
	mu      sync.Mutex
	state   *term.State
}

func (t *rawTerminal) raw() {
	t.once.Do(func() {
		if !term.IsTerminal(int(t.in.Fd())) {
			return
		}
		st, err := term.MakeRaw(int(t.in.Fd()))
		if err == nil {
			t.mu.Lock()
			t.state = st
			t.mu.Unlock()
		}
	})
}

func (t *rawTerminal) restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != nil {
		term.Restore(int(t.in.Fd()), t.state)
		t.state = nil
	}
}

func (t *rawTerminal) Read(p []byte) (int, error) {
	t.raw()
	n, err := t.in.Read(p)
	if i := bytes.IndexByte(p[:n], escapeByte); i >= 0 && t.escape != nil {
		t.escape()
		return i, io.EOF
	}
	return n, err
}

func (t *rawTerminal) Write(p []byte) (int, error) { t.raw(); return t.out.Write(p) }
