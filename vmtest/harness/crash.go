package harness

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// The glue's lines when a kernel report ended the harness (glue/kmsg.c):
// the report's first line, then the input that ran before it, base64.
const (
	ReportLine = "kmodvm-fuzz: kernel report: "
	InputLine  = "kmodvm-fuzz: input "
	// KeyLine is the report as libFuzzer's crash minimizer compares it
	// (glue/kmsg.c): its decimal numbers, which differ between runs of one
	// bug, made N.
	KeyLine = "DEDUP_TOKEN: kmodvm "
)

// KeptLine begins the line of a fuzz job's output (the host's) that names
// the input kept for a kernel report: its path, then its size and what
// the minimizer made of it. OriginalPrefix begins the name of the input
// the job ran before the report, kept beside a smaller one the minimizer
// found. SummaryLine begins the job output's last line when it fuzzed:
// its VMs, their time and the findings' titles, each with how often.
// JobLine begins the output of each job beside the first (kmodvm fuzz
// --jobs), which follows the first's.
const (
	KeptLine       = "--- kmodvm: input kept: "
	OriginalPrefix = "original-"
	SummaryLine    = "--- kmodvm: fuzzed in "
	JobLine        = "=== kmodvm: fuzz job "
)

// CrashPrefix begins the name of a kept input, as libFuzzer names its own:
// crash-<sha1 of the input, hex>.
const CrashPrefix = "crash-"

// harnessCrash is how libFuzzer begins its report of the harness's own
// crash: a deadly signal, a sanitizer's error, a leak, a timeout, running
// out of memory ("==12==ERROR: libFuzzer: deadly signal").
const harnessCrash = "ERROR: libFuzzer: "

// KernelCrash is what the glue said when a kernel report ended the
// harness: the report's first line, and the input.
type KernelCrash struct {
	Report string
	// Key is the report's KeyLine ("" from a glue that printed none).
	Key   string
	Input []byte
}

// ParseCrash finds the glue's first kernel report and its input in a fuzz
// job's output. ok is false when the glue printed none; an input line that
// does not decode is an error.
func ParseCrash(output string) (c KernelCrash, ok bool, err error) {
	cs, err := ParseCrashes(output, 1)
	if err != nil || len(cs) == 0 {
		return KernelCrash{}, false, err
	}
	return cs[0], true, nil
}

// ParseCrashes finds up to n (all when n <= 0) of the glue's kernel reports
// and their inputs in output, in order: one per job, many in a crash
// minimizer's, one per smaller input that still crashed.
func ParseCrashes(output string, n int) ([]KernelCrash, error) {
	var cs []KernelCrash
	var c KernelCrash
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() && (n <= 0 || len(cs) < n) {
		line := strings.TrimSpace(sc.Text())
		if r, found := strings.CutPrefix(line, ReportLine); found {
			c = KernelCrash{Report: r}
		} else if k, found := strings.CutPrefix(line, KeyLine); found && c.Report != "" {
			c.Key = k
		} else if in, found := strings.CutPrefix(line, strings.TrimSpace(InputLine)); found && c.Report != "" {
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(in))
			if err != nil {
				return nil, fmt.Errorf("the harness's input line: %w", err)
			}
			c.Input = data
			cs, c = append(cs, c), KernelCrash{}
		}
	}
	return cs, sc.Err()
}

// SameReport says whether a and b are reports of one bug: their keys
// agree, or, from a glue that printed none, their first lines.
func SameReport(a, b KernelCrash) bool {
	if a.Key != "" && b.Key != "" {
		return a.Key == b.Key
	}
	return a.Report == b.Report
}

// Smallest is the smallest input among the crashes of a minimizer's
// output that are reports of the same bug as orig (SameReport); ok is
// false when none is smaller than orig's.
func Smallest(orig KernelCrash, crashes []KernelCrash) (min KernelCrash, ok bool) {
	min = orig
	for _, c := range crashes {
		if SameReport(orig, c) && len(c.Input) < len(min.Input) {
			min, ok = c, true
		}
	}
	return min, ok
}

// CrashName is the name an input is kept under: crash-<sha1 hex>.
func CrashName(input []byte) string {
	sum := sha1.Sum(input)
	return CrashPrefix + hex.EncodeToString(sum[:])
}

// HarnessCrash finds libFuzzer's report of a crash of the harness itself
// (a bug in user space) in a fuzz job's output: its first line, ok false
// when there is none, or when the glue's kernel report was what ended the
// harness (its abort is libFuzzer's deadly signal too).
func HarnessCrash(output string) (line string, ok bool) {
	if strings.Contains(output, ReportLine) {
		return "", false
	}
	for l := range strings.Lines(output) {
		if i := strings.Index(l, harnessCrash); i >= 0 {
			return strings.TrimSpace(l[i:]), true
		}
	}
	return "", false
}
