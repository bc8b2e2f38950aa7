package dmesg

import "strings"

// InjectedHeader starts the kernel's report of a failure it injected
// (lib/fault-inject.c's fail_dump, with a knob's verbose at 1 or more);
// at 2 the failed call's stack follows.
const InjectedHeader = "FAULT_INJECTION: forcing a failure."

// InjectedStack returns the stack of the call that failed in a kernel
// log holding a fault-injection report (its text, one record a line),
// innermost first, and whether the log has such a report. The stack is
// empty when the kernel logged none (verbose below 2; or the allocation
// asked for no warning, __GFP_NOWARN, which fails silently from 6.1).
// It is not a finding: an injected failure is what was asked for.
func InjectedStack(log string) (frames []Frame, ok bool) {
	i := strings.Index(log, InjectedHeader)
	if i < 0 {
		return nil, false
	}
	started := false
	for _, line := range strings.Split(log[i+len(InjectedHeader):], "\n") {
		text := parseLine([]byte(line)).text
		fr, isFrame := parseFrame(text)
		switch {
		case isFrame && len(frames) < maxFrames:
			frames, started = append(frames, fr), true
		case isFrame:
		case strings.HasPrefix(strings.TrimSpace(text), "</TASK>"),
			started && !traceLine.MatchString(text):
			return frames, true
		}
	}
	return frames, true
}
