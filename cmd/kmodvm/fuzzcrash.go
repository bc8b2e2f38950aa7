package main

import (
	"fmt"
	"io"

	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// printFuzzJob prints a kernel's fuzz job: libFuzzer's numbers (or the
// input replayed), then the kernel report that ended it with the input
// kept, or the harness's own crash, told apart from a kernel finding.
func printFuzzJob(w io.Writer, k *report.Kernel, t *report.Test, replay string) {
	if replay != "" {
		fmt.Fprintf(w, "fuzz %s: replayed %s\n", k.Name, replay)
	} else {
		fmt.Fprintf(w, "fuzz %s: %s\n", k.Name, parseFuzzStats(t.Output))
	}
	for _, l := range fuzzCrashLines(k, t.Output, replay) {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// fuzzCrashLines say what ended a fuzz job, from its output: the kernel
// report the glue saw and the input kept (its path in k's files), or the
// harness's own crash.
func fuzzCrashLines(k *report.Kernel, output, replay string) []string {
	c, ok, err := harness.ParseCrash(output)
	switch {
	case err != nil:
		return []string{"the input of the kernel report is lost: " + err.Error()}
	case ok:
		lines := []string{"kernel report after an input: " + c.Report}
		if p, kept := k.Files[harness.CrashName(c.Input)]; kept && replay == "" {
			lines = append(lines, "input kept: "+p, "to run it alone: the same kmodvm fuzz command with --replay "+p)
		}
		return lines
	}
	if line, crashed := harness.HarnessCrash(output); crashed {
		return []string{"the harness itself crashed (" + line + "): a bug in user space, not a kernel finding"}
	}
	if replay != "" {
		return []string{"no kernel report after the input"}
	}
	return nil
}
