package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var updateFlags = flag.Bool("update", false, "rewrite testdata/flags.golden from the commands' flags (review the diff!)")

// describeFlags lists every command's own flags (persistent ones where
// they are declared): name, shorthand, type, default, the value a bare
// flag takes, and the help line, in the order help prints them.
func describeFlags(cmd *cobra.Command, b *strings.Builder) {
	fmt.Fprintf(b, "== %s\n", cmd.CommandPath())
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		fmt.Fprintf(b, "--%s", f.Name)
		if f.Shorthand != "" {
			fmt.Fprintf(b, " -%s", f.Shorthand)
		}
		fmt.Fprintf(b, " %s default=%q", f.Value.Type(), f.DefValue)
		if f.NoOptDefVal != "" {
			fmt.Fprintf(b, " bare=%q", f.NoOptDefVal)
		}
		if cmd.PersistentFlags().Lookup(f.Name) != nil {
			b.WriteString(" persistent")
		}
		fmt.Fprintf(b, "\n\t%s\n", f.Usage)
	})
	for _, c := range cmd.Commands() {
		describeFlags(c, b)
	}
}

// The commands' flags are the CLI's interface: a refactoring of how they
// are declared must leave every name, type, default and help line as it
// was.
func TestFlagsAreUnchanged(t *testing.T) {
	var b strings.Builder
	describeFlags(newRootCmd(), &b)
	golden := filepath.Join("testdata", "flags.golden")
	if *updateFlags {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("flags differ from %s at line %d:\ngot  %s\nwant %s", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("flags differ from %s: %d lines, want %d", golden, len(gl), len(wl))
	}
}
