package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
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

// kernelRow is one line of `kmodvm kernels list --json`.
type kernelRow struct {
	Selector string `json:"selector"`
	ABI      string `json:"abi"`
	ID       string `json:"id,omitempty"`
	Provider string `json:"provider,omitempty"`
	Arch     string `json:"arch,omitempty"`
	Variant  string `json:"variant,omitempty"`
	Note     string `json:"note,omitempty"`
	Series   string `json:"series,omitempty"`
	Flavour  string `json:"flavour,omitempty"`
	Version  string `json:"version,omitempty"`
	Suite    string `json:"suite,omitempty"`
	Compiler string `json:"compiler,omitempty"`
	Cached   bool   `json:"cached"`
	// Unusable says why the cached copy cannot be used (damaged, or
	// made by another kmodvm): the next fetch makes it again.
	Unusable string `json:"unusable,omitempty"`
	Error    string `json:"error,omitempty"`
}

func newKernelsListCmd(g *globalFlags) *cobra.Command {
	var available, asJSON bool
	cmd := &cobra.Command{
		Use:   "list [selector...]",
		Short: "Show what selectors resolve to and what is cached",
		Long: `Show what the selectors (default: the default matrix) resolve to and
whether each is cached. --available lists every build the archive offers;
--json prints a list for CI matrices.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A malformed selector is a usage error, whether or not the
			// archive index can be had.
			sels, err := parseSelectors(args, g.arch)
			if err != nil {
				return err
			}
			f := g.fetcher()
			deb := debianprov.Of(f)
			f.Log, deb.Log = nil, nil
			ix, err := deb.Index(cmd.Context())
			if err != nil {
				return err
			}
			builds := debianprov.Builds(ix)
			var rows []kernelRow
			if available {
				arches, err := vmtest.Arches(g.arch)
				if err != nil {
					return usageError{err}
				}
				for _, b := range builds {
					if spec := debianprov.Spec(b); slices.Contains(arches, spec.Arch) {
						rows = append(rows, specRow(f, b.ABI, spec))
					}
				}
				if slices.Contains(arches, arch.Default) { // kmodvm builds the default architecture's debug kernels
					rows = append(rows, sourceRows(cmd.Context(), f, builds)...)
				}
			} else {
				for _, sel := range sels {
					spec, err := f.ResolveSpec(cmd.Context(), sel)
					if err != nil {
						rows = append(rows, kernelRow{Selector: sel.Raw, Error: err.Error()})
						continue
					}
					rows = append(rows, specRow(f, sel.Raw, spec))
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				printRows(cmd.OutOrStdout(), rows, ix.Updated)
			}
			for _, r := range rows {
				if r.Error != "" {
					return &exitError{code: exitUsage}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&available, "available", false, "list every kernel build the archive offers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func specRow(f *kernel.Fetcher, sel string, s *kernel.Spec) kernelRow {
	r := kernelRow{Selector: sel, ABI: s.Name, ID: s.ID(), Provider: s.Provider, Arch: s.Arch, Series: s.Series,
		Flavour: s.Flavour, Variant: s.Variant, Version: s.Version, Note: s.Note}
	if s.Debian != nil {
		r.Suite = s.Debian.Suite
	}
	if s.InPlace {
		r.Cached = true
	} else if k, err := f.Cache.Get(s.ID()); err == nil {
		r.Cached, r.Compiler = true, k.Compiler
	} else if errors.Is(err, kernel.ErrCorrupt) {
		r.Unusable = err.Error()
	}
	return r
}

// sourceRows lists the kernels kmodvm can build from source: each variant
// of each series whose newest stock build has sources in the archive.
func sourceRows(ctx context.Context, f *kernel.Fetcher, builds []kernel.Build) []kernelRow {
	var rows []kernelRow
	seen := map[string]bool{}
	for _, b := range builds {
		if b.Flavour != arch.Must(arch.Default).Flavour || seen[b.Series] {
			continue
		}
		seen[b.Series] = true
		for _, v := range kernel.Variants() {
			sel, err := kernel.ParseSelector(b.Series + "-" + v)
			if err != nil {
				continue
			}
			if spec, err := f.ResolveSpec(ctx, sel); err == nil {
				rows = append(rows, specRow(f, sel.Raw, spec))
			}
		}
	}
	return rows
}

func printRows(w io.Writer, rows []kernelRow, updated time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SELECTOR\tKERNEL\tVERSION\tSUITE\tCACHED")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\n", r.Selector, r.Error)
			continue
		}
		cached := "no"
		switch {
		case r.Cached:
			cached = "yes"
		case r.Unusable != "":
			cached = "unusable (fetch makes it again)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Selector, r.ABI, r.Version, r.Suite, cached)
	}
	tw.Flush()
	fmt.Fprintf(w, "(archive index of %s)\n", updated.Local().Format("2006-01-02 15:04"))
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
