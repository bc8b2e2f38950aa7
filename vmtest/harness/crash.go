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
	Input  []byte
}

// ParseCrash finds the glue's kernel report and its input in a fuzz job's
// output. ok is false when the glue printed none; an input line that does
// not decode is an error.
func ParseCrash(output string) (c KernelCrash, ok bool, err error) {
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if r, found := strings.CutPrefix(line, ReportLine); found {
			c.Report = r
		} else if in, found := strings.CutPrefix(line, strings.TrimSpace(InputLine)); found && c.Report != "" {
			c.Input, err = base64.StdEncoding.DecodeString(strings.TrimSpace(in))
			if err != nil {
				return KernelCrash{}, false, fmt.Errorf("the harness's input line: %w", err)
			}
			return c, true, nil
		}
	}
	return KernelCrash{}, false, sc.Err()
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
