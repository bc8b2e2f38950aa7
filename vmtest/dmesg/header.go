package dmesg

// Header says whether the log line b (a console line, a /dev/kmsg record
// or its text) starts a report, of which kind, and its text without the
// line's prefix, at once: a watch on a running guest need not wait for the
// report's end, as Feed does.
func Header(b []byte) (kind Kind, text string, ok bool) {
	l := parseLine(b)
	p, _ := match(l.text)
	if p == nil {
		return "", "", false
	}
	return p.kind, l.text, true
}
