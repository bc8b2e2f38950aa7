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
// matrix of every test is in the Markdown and HTML reports.)
func printMatrix(w io.Writer, rep *report.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cells := func(name string, cell func(k *report.Kernel) string) {
		row := []string{name}
		for _, k := range rep.Kernels {
			row = append(row, cell(k))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if rep.MultiArch() {
		cells("arch", func(k *report.Kernel) string { return k.Arch })
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
