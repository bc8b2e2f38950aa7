package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
	"github.com/spf13/cobra"
)

func (g *globalFlags) fetcher() *kernel.Fetcher {
	dir := g.cache
	if dir == "" {
		dir = kernel.DefaultCacheDir()
	}
	var log io.Writer = os.Stderr
	if g.quiet {
		log = nil
	}
	return vmtest.NewFetcher(dir, g.offline, log, buildProgress(log))
}

// buildProgress prints a kernel build's progress every 10%.
func buildProgress(log io.Writer) func(name string, done, total int) {
	if log == nil {
		return nil
	}
	var mu sync.Mutex
	last := map[string]int{}
	return func(name string, done, total int) {
		pct := done * 100 / max(total, 1) / 10 * 10
		mu.Lock()
		defer mu.Unlock()
		if pct > last[name] {
			last[name] = pct
			fmt.Fprintf(log, "%s: kernel build %d%% (%d of about %d objects)\n", name, pct, done, total)
		}
	}
}

// parseSelectors parses the selectors in args (default: the default
// matrix), each once per architecture of arches (default: amd64's alone).
func parseSelectors(args, arches []string) ([]kernel.Selector, error) {
	if len(args) == 0 {
		args = vmtest.DefaultKernels()
	}
	arches, err := vmtest.Arches(arches)
	if err != nil {
		return nil, usageError{err}
	}
	var sels []kernel.Selector
	for _, arch := range arches {
		for _, a := range args {
			for _, s := range strings.Split(a, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				sel, err := kernel.ParseSelector(s)
				if err != nil {
					return nil, usageError{err}
				}
				sels = append(sels, sel.WithArch(arch))
			}
		}
	}
	return sels, nil
}

func newKernelsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernels",
		Short: "List, fetch and prune kernels",
		Long: `Kernels are named by selectors: a series (5.10, 6.1, 6.12, 7.3, with an
optional flavour: 6.1-rt, 6.12-cloud), latest, a release (6.12.113+deb12), an
exact ABI (6.1.0-57-amd64), or a path to a local kernel build.`,
	}
	cmd.AddCommand(newKernelsListCmd(g), newKernelsFetchCmd(g), newKernelsPruneCmd(g), newKernelsVerifyCmd(g))
	return cmd
}

func newKernelsFetchCmd(g *globalFlags) *cobra.Command {
	var debugInfo bool
	cmd := &cobra.Command{
		Use:   "fetch [selector...]",
		Short: "Download kernels and their headers into the cache",
		RunE: func(cmd *cobra.Command, args []string) error {
			sels, err := parseSelectors(args, g.arch)
			if err != nil {
				return err
			}
			f := g.fetcher()
			var failed []string
			for _, sel := range sels {
				start := time.Now()
				k, err := f.Fetch(cmd.Context(), sel)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", sel, err)
					failed = append(failed, sel.Raw)
					if cmd.Context().Err() != nil {
						break
					}
					continue
				}
				boot := "vmlinux (PVH)"
				switch {
				case arch.Must(k.Arch).Image == arch.ArmImage, arch.Must(k.Arch).Image == arch.RiscvImage:
					boot = "Image"
				case arch.Must(k.Arch).Image == arch.ZImage:
					boot = "zImage"
				case arch.Must(k.Arch).Image == arch.ELFVmlinux:
					boot = "vmlinux (ELF)"
				case k.Vmlinux == "":
					boot = "bzImage (no PVH note)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %-24s %s, %s, built with %s (%s)\n",
					sel.Raw, k.Name, k.Origin, boot, k.Compiler, time.Since(start).Round(time.Millisecond))
				if k.Note != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%-8s note: %s\n", sel.Raw, k.Note)
				}
				if debugInfo {
					start = time.Now()
					d, err := f.DebugInfo(cmd.Context(), k, symbol.HasDebugInfo)
					if err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", sel, err)
						failed = append(failed, sel.Raw+" (debug info)")
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%-8s %-24s debug info: %s (%s)\n", sel.Raw, k.Name, d.Vmlinux, time.Since(start).Round(time.Millisecond))
				}
			}
			if len(failed) > 0 {
				code := exitInfra
				return &exitError{code: code, err: fmt.Errorf("could not fetch: %s", strings.Join(failed, ", "))}
			}
			return nil
		},
	}
	addDebugInfoFlag(cmd.Flags(), &debugInfo)
	return cmd
}

func newKernelsPruneCmd(g *globalFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "prune [abi...]",
		Short: "Remove cached kernels (corrupt ones, the named ones, or --all), every VM snapshot and the packages a fetch left",
		RunE: func(cmd *cobra.Command, args []string) error {
			f := g.fetcher()
			good, bad := f.Cache.List()
			var keys []string
			for key, err := range bad {
				fmt.Fprintf(cmd.OutOrStdout(), "removing corrupt entry %s: %v\n", key, err)
				keys = append(keys, key)
			}
			for _, k := range good {
				if all || contains(args, k.ABI) || contains(args, k.Name) {
					fmt.Fprintf(cmd.OutOrStdout(), "removing %s\n", k.Name)
					keys = append(keys, k.ID)
				}
			}
			sort.Strings(keys)
			var errs []error
			for _, key := range keys {
				errs = append(errs, f.Cache.Remove(key))
			}
			// Snapshots are made again by the next run that needs one;
			// one of a removed kernel would never be used again.
			snaps := &qemu.Snapshots{Dir: vmtest.SnapshotDir(f.Cache.Dir)}
			freed, err := snaps.Prune(0)
			if freed > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "removed VM snapshots (%d MB)\n", freed>>20)
			}
			if freed := debianprov.DropPackages(f.Cache); freed > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "removed downloaded packages (%d MB)\n", freed>>20)
			}
			return errors.Join(append(errs, err)...)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "remove every cached kernel")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
