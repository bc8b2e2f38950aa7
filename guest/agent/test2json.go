package agent

import (
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// converter turns the output of a test binary run with -test.v=test2json
// into test2json events, as `go test -json` would. The real converter
// (cmd/internal/test2json) is internal to the Go toolchain, and the guest has
// no go command to run it, so this is a minimal rewrite of its line rules:
// framing lines start with ^V, which tells "--- FAIL: X" printed by the
// testing package from the same text printed by a test, and the indentation
// of a report line tells which subtest it ends. Benchmarks are not special.
type converter struct {
	pkg  string
	emit func(event.TestEvent)
	// beforeResult runs before a pass/fail/skip event is emitted, so the
	// caller can first flush what the test caused elsewhere (kernel log).
	beforeResult func()

	start      time.Time
	testName   string            // test that output is attributed to
	report     []event.TestEvent // pending results, outermost first
	result     string            // from the final PASS/FAIL line
	needMarker bool              // framing lines carry ^V (test2json mode seen)
	line       []byte            // unterminated input
	mid        bool              // inside a line too long to hold
	// plain is the one test a plain binary (event.TestBinary.Plain) is:
	// all its output is that test's, and its exit status its result, so
	// that the host attributes the kernel's findings to it as to a test.
	plain string
}

const (
	marker = 0x16 // ^V, introduces framing lines in -test.v=test2json mode
	// maxLine bounds a held input line; longer lines are forwarded in
	// pieces as output (they cannot be framing lines).
	maxLine = 4096
)

var (
	updates = []string{"=== RUN   ", "=== PAUSE ", "=== CONT  ", "=== NAME  ",
		"=== PASS  ", "=== FAIL  ", "=== SKIP  ", "=== ATTR  ", "=== ARTIFACTS "}
	reports = []string{"--- PASS: ", "--- FAIL: ", "--- SKIP: ", "--- BENCH: "}
)

func newConverter(pkg string, emit func(event.TestEvent), beforeResult func()) *converter {
	c := &converter{pkg: pkg, emit: emit, beforeResult: beforeResult, start: time.Now()}
	c.send(event.TestEvent{Action: "start"})
	return c
}

// newPlainConverter is newConverter for a plain binary: one test named
// after the binary.
func newPlainConverter(pkg string, emit func(event.TestEvent), beforeResult func()) *converter {
	c := newConverter(pkg, emit, beforeResult)
	c.plain = pkg
	c.send(event.TestEvent{Action: "run", Test: pkg})
	return c
}

// Write implements io.Writer.
func (c *converter) Write(p []byte) (int, error) {
	c.line = append(c.line, p...)
	i := 0
	for i < len(c.line) {
		j, w := indexEOL(c.line[i:])
		if j < 0 {
			break
		}
		end := i + j + w
		if c.mid {
			c.output(c.line[i:end])
			c.mid = false
		} else {
			c.handleLine(c.line[i:end])
		}
		i = end
	}
	c.line = c.line[:copy(c.line, c.line[i:])]
	if len(c.line) >= maxLine {
		c.output(c.line)
		c.line = c.line[:0]
		c.mid = true
	}
	return len(p), nil
}

// indexEOL finds the end of the first line in b: a newline (kept), or a ^V
// that does not start the line (left to start the next one).
func indexEOL(b []byte) (pos, width int) {
	for i, ch := range b {
		if ch == '\n' {
			return i, 1
		}
		if ch == marker && i > 0 {
			return i, 0
		}
	}
	return -1, 0
}

// Close ends the stream: it forwards a partial last line, flushes pending
// results, and emits the binary's overall result. exitOK is whether the
// process exited with status 0; a crash or timeout fails the package even if
// the output claimed otherwise.
func (c *converter) Close(exitOK bool) {
	if len(c.line) > 0 {
		c.output(c.line)
		c.line = c.line[:0]
	}
	c.flushReport(0)
	result := c.result
	switch {
	case !exitOK:
		result = "fail"
	case result == "":
		result = "pass"
	}
	if c.plain != "" {
		c.beforeResult()
		c.send(event.TestEvent{Action: result, Test: c.plain, Elapsed: time.Since(c.start).Round(time.Millisecond).Seconds()})
	}
	c.testName = ""
	c.beforeResult()
	c.send(event.TestEvent{Action: result, Elapsed: time.Since(c.start).Round(time.Millisecond).Seconds()})
}

func (c *converter) handleLine(line []byte) {
	if c.plain != "" {
		c.testName = c.plain
		c.output(line)
		return
	}
	sawMarker := false
	if c.needMarker && line[0] != marker {
		c.output(line)
		return
	}
	if line[0] == marker {
		sawMarker = true
		line = line[1:]
	}
	trim := strings.TrimRight(string(line), "\r\n")
	if trim == "=== NAME" {
		trim = "=== NAME  "
	}
	if trim == "PASS" || trim == "FAIL" || strings.HasPrefix(trim, "FAIL\t") {
		c.flushReport(0)
		c.needMarker = sawMarker
		c.output(line)
		c.result = strings.ToLower(trim[:4])
		return
	}
	if hasAnyPrefix(trim, updates) {
		c.update(trim, line, sawMarker)
		return
	}
	indent := 0
	rest := trim
	for strings.HasPrefix(rest, "    ") {
		rest = rest[4:]
		indent++
	}
	if !hasAnyPrefix(rest, reports) {
		// Indented output belongs to the subtest at that depth.
		if indent > 0 && indent <= len(c.report) {
			c.testName = c.report[indent-1].Test
		}
		c.output(line)
		return
	}
	c.reportLine(rest, line, indent, sawMarker)
}

// update handles "=== ACTION name" lines.
func (c *converter) update(trim string, line []byte, sawMarker bool) {
	action, name, _ := strings.Cut(trim[len("=== "):], " ")
	action = strings.ToLower(action)
	name = strings.TrimSpace(name)
	if action == "attr" || action == "artifacts" {
		name, _, _ = strings.Cut(name, " ")
	}
	c.needMarker = sawMarker
	c.flushReport(0)
	c.testName = name
	switch action {
	case "name":
		return
	case "pause":
		c.output(line)
		c.send(event.TestEvent{Action: action})
	default:
		c.send(event.TestEvent{Action: action})
		c.output(line)
	}
}

// reportLine handles "--- RESULT: name (1.23s)" lines, indented by depth.
func (c *converter) reportLine(rest string, line []byte, indent int, sawMarker bool) {
	action, name, _ := strings.Cut(rest[len("--- "):], " ")
	action = strings.ToLower(strings.TrimSuffix(action, ":"))
	e := event.TestEvent{Action: action}
	if i := strings.Index(name, " ("); i >= 0 {
		if strings.HasSuffix(name, "s)") {
			if t, err := strconv.ParseFloat(name[i+2:len(name)-2], 64); err == nil {
				e.Elapsed = t
			}
		}
		name = name[:i]
	}
	if len(c.report) < indent {
		c.output(line)
		return
	}
	c.needMarker = sawMarker
	c.flushReport(indent)
	e.Test = name
	c.testName = name
	c.report = append(c.report, e)
	c.output(line)
}

// flushReport emits pending results at depth or deeper, innermost first.
func (c *converter) flushReport(depth int) {
	c.testName = ""
	if len(c.report) > depth {
		c.beforeResult()
	}
	for len(c.report) > depth {
		e := c.report[len(c.report)-1]
		c.report = c.report[:len(c.report)-1]
		c.send(e)
	}
}

func (c *converter) output(b []byte) {
	if len(b) == 0 {
		return
	}
	if b[0] == marker {
		b = b[1:]
	}
	c.send(event.TestEvent{Action: "output", Output: string(b)})
}

func (c *converter) send(e event.TestEvent) {
	e.Time = time.Now()
	e.Package = c.pkg
	if e.Test == "" {
		e.Test = c.testName
	}
	c.emit(e)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
