package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
	"github.com/spf13/cobra"
)

func newKernelsVerifyCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Hash every file of the cache again and say what is damaged",
		Long: `Hash every file of the cached kernels, toolchain userlands, module builds
and image layers again, whatever their fingerprints say, and compare each with
the SHA-256 recorded when it was made. A run checks the same digests but
hashes only the files whose size, inode or times moved. Exit status 3 when
anything is damaged: a run makes it again (with network), or kmodvm kernels
prune removes damaged kernels.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := g.fetcher()
			f.Log = nil
			w := cmd.OutOrStdout()
			damaged := 0
			good, bad := f.Cache.VerifyAll()
			for _, k := range good {
				fmt.Fprintf(w, "ok       kernel %s\n", k.Name)
			}
			damaged += printVerified(w, "kernel", bad)
			l := f.Cache.Layout()
			for _, kind := range []struct {
				name   string
				verify func() (map[string]error, error)
			}{
				{"toolchain", func() (map[string]error, error) { return toolchain.VerifyUserlands(l.Toolchains()) }},
				{"build", func() (map[string]error, error) { return kbuild.VerifyCache(l.Builds()) }},
				{"layer", (&initramfs.Builder{CacheDir: l.Root}).Verify},
			} {
				res, err := kind.verify()
				if err != nil {
					return &exitError{code: exitInfra, err: err}
				}
				damaged += printVerified(w, kind.name, res)
			}
			if damaged > 0 {
				return &exitError{code: exitInfra, err: fmt.Errorf("%d damaged: a run makes them again (with network), or `kmodvm kernels prune` removes damaged kernels", damaged)}
			}
			return nil
		},
	}
}

// printVerified prints one line per entry of res (an entry's name and its
// damage, or nil), damaged ones with their damage, and returns how many
// were damaged.
func printVerified(w io.Writer, kind string, res map[string]error) int {
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	damaged := 0
	for _, n := range names {
		if err := res[n]; err != nil {
			damaged++
			fmt.Fprintf(w, "DAMAGED  %s %s: %v\n", kind, n, err)
			continue
		}
		fmt.Fprintf(w, "ok       %s %s\n", kind, n)
	}
	return damaged
}
