package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/spf13/cobra"
)

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
	// Lacks, in a list of several architectures, says in a line why
	// architecture Arch has no kernel for the selector: a skipped cell of
	// the grid, not an error.
	Lacks string `json:"lacks,omitempty"`
}

// arches are the architectures sels name, in their order.
func arches(sels []kernel.Selector) []string {
	var out []string
	for _, s := range sels {
		if a := s.Arch(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// selectorRows resolves sels, one row each. In a list of several
// architectures (grid), a kernel an architecture lacks is a row that
// says so in a line, and a kernel named for several (an ABI) is listed
// once.
func selectorRows(ctx context.Context, f *kernel.Fetcher, sels []kernel.Selector, grid bool) []kernelRow {
	var rows []kernelRow
	seen := map[string]bool{}
	for _, sel := range sels {
		spec, err := f.ResolveSpec(ctx, sel)
		if err != nil {
			row := kernelRow{Selector: sel.Raw, Error: err.Error()}
			if short, ok := kernel.ShortLack(err); ok && grid {
				row = kernelRow{Selector: sel.Raw, Arch: sel.Arch(), Lacks: short}
			}
			rows = append(rows, row)
			continue
		}
		if grid && seen[spec.ID()] {
			continue
		}
		seen[spec.ID()] = true
		rows = append(rows, specRow(f, sel.Raw, spec))
	}
	return rows
}

// listFailed reports whether a list is a usage error: a row that failed,
// or a selector that names no kernel of any architecture listed.
func listFailed(rows []kernelRow) bool {
	found := map[string]bool{}
	for _, r := range rows {
		if r.Error != "" {
			return true
		}
		if r.Lacks == "" {
			found[r.Selector] = true
		}
	}
	for _, r := range rows {
		if !found[r.Selector] {
			return true
		}
	}
	return false
}

func newKernelsListCmd(g *globalFlags) *cobra.Command {
	var available, asJSON bool
	cmd := &cobra.Command{
		Use:   "list [selector...]",
		Short: "Show what selectors resolve to and what is cached",
		Long: `Show what the selectors (default: the default matrix) resolve to and
whether each is cached. --available lists every build the archive offers;
--json prints a list for CI matrices. With several architectures (--arch
all) the list is the grid: a series one of them lacks is a row saying so
in a line, and only a selector none of them has is an error.`,
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
				rows = selectorRows(cmd.Context(), f, sels, len(g.arch) > 0 && len(arches(sels)) > 1)
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
			if listFailed(rows) {
				return &exitError{code: exitUsage}
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

// printRows prints rows as a table; a list of several architectures
// has a column naming each row's.
func printRows(w io.Writer, rows []kernelRow, updated time.Time) {
	grid := len(rowArches(rows)) > 1
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	first := func(r kernelRow) string {
		if grid {
			return r.Selector + "\t" + r.Arch
		}
		return r.Selector
	}
	if grid {
		fmt.Fprintln(tw, "SELECTOR\tARCH\tKERNEL\tVERSION\tSUITE\tCACHED")
	} else {
		fmt.Fprintln(tw, "SELECTOR\tKERNEL\tVERSION\tSUITE\tCACHED")
	}
	for _, r := range rows {
		if r.Error != "" || r.Lacks != "" {
			why := r.Error
			if r.Lacks != "" {
				why = "- (" + r.Lacks + ")"
			}
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\n", first(r), why)
			continue
		}
		cached := "no"
		switch {
		case r.Cached:
			cached = "yes"
		case r.Unusable != "":
			cached = "unusable (fetch makes it again)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", first(r), r.ABI, r.Version, r.Suite, cached)
	}
	tw.Flush()
	fmt.Fprintf(w, "(archive index of %s)\n", updated.Local().Format("2006-01-02 15:04"))
}

// rowArches are the architectures of rows that have one.
func rowArches(rows []kernelRow) []string {
	var out []string
	for _, r := range rows {
		if r.Arch != "" && !slices.Contains(out, r.Arch) {
			out = append(out, r.Arch)
		}
	}
	return out
}
