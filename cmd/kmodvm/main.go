// Command kmodvm builds a kernel module for every kernel you support, boots
// each kernel in QEMU with the module and its Go tests, and reports what
// built, loaded, passed and broke.
//
// Run `kmodvm help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a build, load or test failed
	exitUsage  = 2 // bad flags or configuration
	exitInfra  = 3 // kmodvm or the VM broke, not the module
)

// usageError marks errors that are the user's to fix.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries an exit code chosen by a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "kmodvm:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "kmodvm:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitInfra
}

type globalFlags struct {
	cache   string
	verbose bool
	quiet   bool
	offline bool
	// arch are the architectures whose kernels the selectors name.
	arch []string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "kmodvm",
		Short:         "Build, load and test a kernel module on every kernel you support",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Validating arguments here, rather than leaving it to cobra, makes an
		// unknown command a usage error (exit 2) with suggestions.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			}
			return usagef("%s (see `kmodvm --help`)", msg)
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())}
	})
	root.SuggestionsMinimumDistance = 2
	pf := root.PersistentFlags()
	pf.StringVar(&g.cache, "cache", "", "cache directory (default $KMODVM_CACHE or $XDG_CACHE_HOME/kmodvm)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "print more detail")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only results and errors")
	pf.BoolVar(&g.offline, "offline", false, "use only cached kernels and the cached archive index")
	pf.StringSliceVar(&g.arch, "arch", nil, "architectures of the kernels selectors name, any of "+
		strings.Join(arch.Names(), ", ")+", or "+vmtest.AllArches+" (default "+arch.Default+")")
	root.AddCommand(newKernelsCmd(g), newBuildCmd(g), newRunCmd(g), newShellCmd(g), newFuzzCmd(g))
	root.AddCommand(newReportCmd())
	return root
}
