package dmesg

import (
	"bytes"
	"strconv"
	"time"
)

// maxLineLen bounds one log line; the rest is dropped.
const maxLineLen = 4 << 10

// logLine is one line of a log with its prefix taken apart.
type logLine struct {
	raw   string        // as fed, without \r\n, cut to maxLineLen
	text  string        // the message, without timestamp or kmsg prefix
	ts    time.Duration // kernel timestamp, if hasTS
	hasTS bool
}

// parseLine accepts the three forms a kernel log line comes in:
//
//	[    2.178450] text            console, printk time on
//	<4>[    2.178450] text         console with the level
//	4,350,1651149,-;text            raw /dev/kmsg record
//	text                            /dev/kmsg text, or console without time
func parseLine(b []byte) logLine {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > maxLineLen {
		b = b[:maxLineLen]
	}
	l := logLine{raw: string(b)}
	rest := b
	if ts, text, ok := kmsgPrefix(rest); ok {
		l.ts, l.hasTS = ts, true
		rest = text
	} else {
		if len(rest) > 2 && rest[0] == '<' {
			if i := bytes.IndexByte(rest[:min(len(rest), 5)], '>'); i > 1 && allDigits(rest[1:i]) {
				rest = rest[i+1:]
			}
		}
		if ts, text, ok := consolePrefix(rest); ok {
			l.ts, l.hasTS = ts, true
			rest = text
		}
	}
	l.text = string(bytes.TrimRight(rest, " \t"))
	return l
}

// consolePrefix parses "[ sec.usec] " and an optional caller id "[T123] ".
func consolePrefix(b []byte) (time.Duration, []byte, bool) {
	if len(b) < 3 || b[0] != '[' {
		return 0, b, false
	}
	end := bytes.IndexByte(b, ']')
	if end < 0 || end > 20 {
		return 0, b, false
	}
	ts, ok := parseSeconds(bytes.TrimSpace(b[1:end]))
	if !ok {
		return 0, b, false
	}
	rest := b[end+1:]
	if len(rest) > 2 && rest[0] == '[' {
		if i := bytes.IndexByte(rest, ']'); i > 0 && i < 12 && (rest[1] == 'T' || rest[1] == 'C' || rest[1] == ' ') {
			rest = rest[i+1:]
		}
	}
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return ts, rest, true
}

// parseSeconds reads "12.345678" exactly: through a float, 4.1 s would
// come out a nanosecond short.
func parseSeconds(b []byte) (time.Duration, bool) {
	sec, frac, _ := bytes.Cut(b, []byte("."))
	if !allDigits(sec) || len(sec) > 9 || (len(frac) > 0 && !allDigits(frac)) || len(frac) > 9 {
		return 0, false
	}
	s, _ := strconv.ParseInt(string(sec), 10, 64)
	ns := int64(0)
	if len(frac) > 0 {
		ns, _ = strconv.ParseInt(string(frac), 10, 64)
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
	}
	return time.Duration(s)*time.Second + time.Duration(ns), true
}

// kmsgPrefix parses "prio,seq,usec,flags[,...];".
func kmsgPrefix(b []byte) (time.Duration, []byte, bool) {
	semi := bytes.IndexByte(b, ';')
	if semi < 7 || semi > 64 {
		return 0, b, false
	}
	fields := bytes.Split(b[:semi], []byte(","))
	if len(fields) < 4 || !allDigits(fields[0]) || !allDigits(fields[1]) || !allDigits(fields[2]) {
		return 0, b, false
	}
	usec, err := strconv.ParseInt(string(fields[2]), 10, 64)
	if err != nil {
		return 0, b, false
	}
	return time.Duration(usec) * time.Microsecond, b[semi+1:], true
}

func allDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
