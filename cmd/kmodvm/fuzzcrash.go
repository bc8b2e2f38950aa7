package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

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
	for _, l := range fuzzCrashLines(t.Output, replay) {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// fuzzCrashLines say what ended a fuzz job, from its output: the kernel
// report the glue saw and the inputs kept, or the harness's own crash.
func fuzzCrashLines(output, replay string) []string {
	c, ok, err := harness.ParseCrash(output)
	switch {
	case err != nil:
		return []string{"the input of the kernel report is lost: " + err.Error()}
	case ok:
		return append([]string{"kernel report after an input: " + c.Report}, keptLines(output)...)
	}
	if title, ok := ringTitle(output); ok {
		return append([]string{"kernel report that ended the guest: " + title}, keptLines(output)...)
	}
	if line, crashed := harness.HarnessCrash(output); crashed {
		return []string{"the harness itself crashed (" + line + "): a bug in user space, not a kernel finding"}
	}
	if replay != "" {
		return []string{"no kernel report after the input"}
	}
	return nil
}

// keptLines are the host's lines in a fuzz job's output about the inputs
// kept (each with how to run it alone) and, last, the VMs it fuzzed in.
func keptLines(output string) []string {
	var lines []string
	for l := range strings.Lines(output) {
		l = strings.TrimSpace(l)
		if kept, ok := strings.CutPrefix(l, harness.KeptLine); ok {
			p, _, _ := strings.Cut(kept, " ")
			lines = append(lines, "input kept: "+kept, "to run it alone: the same kmodvm fuzz command with --replay "+p)
		} else if seq, ok := strings.CutPrefix(l, harness.SeqKeptLine); ok {
			lines = append(lines, "last inputs kept: "+seq)
		} else if sum, ok := strings.CutPrefix(l, harness.SummaryLine); ok {
			lines = append(lines, "fuzzed in "+sum)
		}
	}
	return lines
}

// ringTitle is the title of the first finding that ended a fuzz VM's
// guest before the glue printed its input (the host's harness.RingLine).
func ringTitle(output string) (string, bool) {
	for l := range strings.Lines(output) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), harness.RingLine)
		if !ok {
			continue
		}
		if title, err := strconv.QuotedPrefix(rest); err == nil {
			t, _ := strconv.Unquote(title)
			return t, true
		}
	}
	return "", false
}
