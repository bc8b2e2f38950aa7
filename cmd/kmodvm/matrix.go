package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// printMatrix prints the compatibility matrix a run ends with: kernels
// across; the build, boot, module loads, test counts and kernel-log
// findings down, then every test that did not pass somewhere. (The full
// matrix of every test is in the Markdown and HTML reports.) A run of
// several architectures gets one matrix each: the whole grid in one is
// too wide for any terminal.
func printMatrix(w io.Writer, rep *report.Report) {
	if !rep.MultiArch() {
		printArchMatrix(w, rep)
		return
	}
	for i, a := range rep.Arches() {
		sub := *rep
		sub.Kernels = nil
		for _, k := range rep.Kernels {
			if k.Arch == a {
				sub.Kernels = append(sub.Kernels, k)
			}
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s:\n", a)
		printArchMatrix(w, &sub)
	}
}

// printArchMatrix prints one matrix of rep's kernels.
func printArchMatrix(w io.Writer, rep *report.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cells := func(name string, cell func(k *report.Kernel) string) {
		row := []string{name}
		for _, k := range rep.Kernels {
			row = append(row, cell(k))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	cells("", func(k *report.Kernel) string { return k.Name })
	cells("build", func(k *report.Kernel) string {
		if k.Build == nil {
			return "-"
		}
		if n := len(k.Build.Warnings); n > 0 {
			return fmt.Sprintf("%s (%d warnings)", k.Build.Status, n)
		}
		return string(k.Build.Status)
	})
	cells("boot", func(k *report.Kernel) string {
		if k.Boot == nil {
			return "-"
		}
		return string(k.Boot.Status)
	})
	cells("load", func(k *report.Kernel) string {
		st := "-"
		for _, m := range k.Modules {
			if m.Dep {
				continue
			}
			if st = "pass"; m.Load != report.Pass || m.Unload == report.Fail {
				return "fail"
			}
		}
		return st
	})
	cells("tests", func(k *report.Kernel) string {
		if k.Status == report.Skip && k.Build == nil {
			return "skip"
		}
		c := k.Counts()
		return fmt.Sprintf("%d/%d", c.Pass, c.Pass+c.Fail+c.Other)
	})
	cells("findings", func(k *report.Kernel) string { return k.BugsText() })
	for _, key := range rep.TestKeys() {
		bad := false
		for _, k := range rep.Kernels {
			if t := k.Find(key); t != nil && t.Status != report.Pass && t.Status != report.Skip {
				bad = true
			}
		}
		if !bad {
			continue
		}
		cells(rep.Label(key), func(k *report.Kernel) string {
			if t := k.Find(key); t != nil {
				return string(t.Status)
			}
			return "-"
		})
	}
	tw.Flush()
}
