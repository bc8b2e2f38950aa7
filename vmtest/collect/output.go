package collect

import "strings"

// maxTestOutput bounds the output kept per test; the rest is in
// events.jsonl. Past it, only the lines kmodvm reads back are kept
// (keptPrefixes), up to maxKeptOutput: a fuzz job's libFuzzer prints a
// line per new input for minutes, and what ends the job (the glue's
// kernel report and input, libFuzzer's crash and its final statistics,
// the corpus the glue sends, base64) comes last.
const (
	maxTestOutput = 64 << 10
	maxKeptOutput = 64 << 20
)

// keptPrefixes begin the lines kept past maxTestOutput: the glue's
// ("kmodvm-fuzz: corpus ...", "kmodvm-fuzz: kernel report: ...",
// "kmodvm-kcov: ..."), libFuzzer's crash minimizer's key, its
// statistics, and a sanitizer's or libFuzzer's own report
// ("==12==ERROR: libFuzzer: deadly signal").
var keptPrefixes = []string{"kmodvm-", "DEDUP_TOKEN", "stat::", "==", "--- kmodvm"}

// keepOutput reports whether chunk, a piece of a test's output (a line,
// mostly), is kept after have bytes of it.
func keepOutput(have int, chunk string) bool {
	if have < maxTestOutput {
		return true
	}
	if have+len(chunk) > maxKeptOutput {
		return false
	}
	line := strings.TrimLeft(chunk, " \t")
	for _, p := range keptPrefixes {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// addOutput adds a piece of the test's output, past maxTestOutput to
// more, if kept.
func (tr *testRun) addOutput(chunk string) {
	switch {
	case len(tr.t.Output) < maxTestOutput:
		tr.t.Output += chunk
	case keepOutput(len(tr.t.Output)+tr.more.Len(), chunk):
		tr.more.WriteString(chunk)
	}
}

// flush adds the output kept past maxTestOutput to the test's.
func (tr *testRun) flush() {
	if tr.more.Len() > 0 {
		tr.t.Output += tr.more.String()
		tr.more.Reset()
	}
}
