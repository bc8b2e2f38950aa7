package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
	"github.com/spf13/cobra"
)

func newBuildCmd(g *globalFlags) *cobra.Command {
	var (
		module  string
		kernels []string
		out     string
		werror  bool
		w1      bool
		vars    []string
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build a module against each kernel's headers, with the compiler it expects",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			if _, err := os.Stat(module); err != nil {
				return usagef("--module: %v", err)
			}
			sels, err := parseSelectors(kernels, g.arch)
			if err != nil {
				return err
			}
			if out == "" {
				// A private directory of this run's: a fixed name under
				// the shared temporary directory is anyone's to take
				// first.
				if out, err = os.MkdirTemp("", "kmodvm-build-"); err != nil {
					return &exitError{code: exitInfra, err: err}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "kmodvm: building in %s\n", out)
			}
			f := g.fetcher()
			var makeArgs []string
			if w1 {
				makeArgs = append(makeArgs, "W=1")
			}
			for _, v := range vars {
				if err := kbuild.CheckMakeVar(v); err != nil {
					return usagef("--make-var: %v", err)
				}
			}
			makeArgs = append(makeArgs, vars...)
			results := buildAll(cmd.Context(), g, f, sels, kbuild.Options{Source: module, MakeArgs: makeArgs, Werror: werror}, out)
			failed := 0
			for i, r := range results {
				w := cmd.OutOrStdout()
				if r.err != nil {
					failed++
					fmt.Fprintf(w, "FAIL %s: %v\n", sels[i].Raw, r.err)
					if r.res != nil {
						fmt.Fprintf(w, "     log: %s\n", r.res.LogPath)
					}
					continue
				}
				fmt.Fprintf(w, "ok   %-8s %-24s %s, %d warning(s), %s\n", sels[i].Raw, r.res.Kernel, r.res.Toolchain, len(r.res.Warnings), r.res.Duration.Round(1e6))
				for _, d := range r.res.Warnings {
					fmt.Fprintf(w, "     %s\n", d)
				}
				for _, m := range r.res.Modules {
					fmt.Fprintf(w, "     %s (vermagic %s)\n", m.Path, m.Vermagic)
				}
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d kernels failed", failed, len(sels))}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&module, "module", "kmod", "module source directory (with Kbuild or Makefile)")
	fl.StringSliceVar(&kernels, "kernels", nil, "kernel selectors "+defaultKernelsHelp())
	fl.StringVar(&out, "out", "", "build directory (one subdirectory per kernel)")
	fl.BoolVar(&werror, "werror", false, "fail builds that print warnings")
	fl.BoolVar(&w1, "W1", false, "build with W=1 (extra warnings)")
	addMakeVarFlag(fl, &vars)
	return cmd
}

type buildOutcome struct {
	res *kbuild.Result
	err error
}

// buildAll fetches each kernel and builds the module for it, in parallel;
// one kernel's failure does not stop the others.
func buildAll(ctx context.Context, g *globalFlags, f *kernel.Fetcher, sels []kernel.Selector, o kbuild.Options, out string) []buildOutcome {
	tcs := &toolchain.Set{Dir: f.Cache.Layout().Toolchains(), Offline: f.Offline}
	if g.verbose {
		tcs.Log = os.Stderr
	}
	results := make([]buildOutcome, len(sels))
	var wg sync.WaitGroup
	for i, sel := range sels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := f.Fetch(ctx, sel)
			if err != nil {
				results[i].err = err
				return
			}
			tc, err := tcs.For(ctx, k)
			if err != nil {
				results[i].err = err
				return
			}
			oo := o
			oo.Out = filepath.Join(out, k.Name)
			r, err := kbuild.Build(ctx, k, tc, oo)
			if errors.Is(err, kbuild.ErrBuild) && r != nil && len(r.Errors) == 0 {
				err = fmt.Errorf("%w (see %s)", err, r.LogPath)
			}
			results[i] = buildOutcome{res: r, err: err}
		}()
	}
	wg.Wait()
	return results
}
