package dmesg

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Limits that keep a Scanner's memory bounded whatever it is fed.
const (
	maxReportLines = 400      // lines kept in one Finding.Report
	maxReportBytes = 64 << 10 // bytes kept in one Finding.Report
	maxPreTrace    = 160      // lines a report may run before its call trace
	maxFrames      = 64       // frames kept in one Finding.Frames
	maxFindings    = 1000     // findings returned by one Scan
)

// Finding is one report the kernel printed.
type Finding struct {
	Kind Kind
	// Title names the report and the function it happened in, like
	// syzkaller: "WARNING in faultmod_ioctl".
	Title string
	// Report is the whole block as it was fed, header to end of trace.
	Report string
	// Line is the index of the report's first line among the lines fed.
	Line int
	// Time is the kernel timestamp of the first line; zero if it had none.
	Time time.Duration
	// Func is the guilty function, Module its module when the trace names
	// one ("func+0x1/0x2 [module]"); empty when unknown or built in.
	Func   string
	Module string
	// Taint holds the flags of the report's "Tainted:" line as printed,
	// e.g. "G W OE" (ParseTaint reads them); empty when the kernel was not
	// tainted or did not say.
	Taint string
	// PC is the code location the report's registers name (x86 "RIP:
	// 0010:", arm64 "pc :"), LR arm64's link register ("lr :"); zero when
	// the report has none.
	PC, LR Frame
	// Handler is the code a report names outside its trace as where what
	// it found came from: a bad page map's mapping's fault handler.
	Handler Frame
	// Frames is the report's call trace, innermost first: the stack after
	// "Call Trace:" (or "backtrace:"), else the first stack it prints.
	Frames []Frame
}

// Frame is one entry of a call trace, as "? func+0x1a/0x40 [module]".
type Frame struct {
	Func         string
	Offset, Size uint64
	Module       string // empty for code built into the kernel
	// Addr is set for a frame printed as a bare address, code the kernel
	// could not name (a module already unloaded).
	Addr uint64
	// Unreliable marks a frame printed with "?": a return address found on
	// the stack that the unwinder could not prove is a caller.
	Unreliable bool
}

// IsZero reports whether f names no code.
func (f Frame) IsZero() bool { return f.Func == "" && f.Addr == 0 }

// Scanner finds reports in a kernel log fed one line at a time, such as
// console lines or /dev/kmsg records as they arrive. It keeps only the
// report in progress. A Scanner is not safe for concurrent use.
type Scanner struct {
	n    int     // lines fed so far
	cur  *report // the report in progress
	last string  // latest taint flags seen
	// pro holds a "cut here" line and the few lines after it: a WARN's
	// own message comes there, before the header it belongs to.
	pro      []string
	proStart int
}

// maxPrologue bounds the lines kept between "cut here" and a header.
const maxPrologue = 6

// report is a Finding being assembled.
type report struct {
	f        Finding
	pat      *pattern
	groups   map[string]string
	lines    []string
	size     int
	timed    bool // the header had a timestamp: untimed lines are not the kernel's
	inTrace  bool // "Call Trace:" seen
	preTrace int  // lines before the trace
	// stacks are the runs of frame lines seen so far; a run ends at the
	// first line that belongs to no trace.
	stacks  []stack
	inStack bool
}

// stack is one run of frames in a report.
type stack struct {
	frames []Frame
	call   bool // introduced by "Call Trace:" or "backtrace:"
}

// Scan returns the reports in a whole log.
func Scan(log []byte) []Finding {
	var s Scanner
	var out []Finding
	for len(log) > 0 && len(out) < maxFindings {
		line := log
		if i := bytes.IndexByte(log, '\n'); i >= 0 {
			line, log = log[:i], log[i+1:]
		} else {
			log = nil
		}
		out = append(out, s.Feed(line)...)
	}
	out = append(out, s.Flush()...)
	if len(out) > maxFindings {
		out = out[:maxFindings]
	}
	return out
}

// Feed adds one line (its trailing newline optional) and returns the
// findings it completed: at most two, the report it ended and, for
// one-line reports, itself.
func (s *Scanner) Feed(b []byte) []Finding {
	return s.feed(parseLine(b))
}

// FeedRecord adds one /dev/kmsg record given as its text and timestamp,
// as the guest agent's kmsg events carry it.
func (s *Scanner) FeedRecord(text string, ts time.Duration) []Finding {
	l := parseLine([]byte(text))
	l.text = strings.TrimRight(l.raw, " \t")
	l.ts, l.hasTS = ts, true
	return s.feed(l)
}

func (s *Scanner) feed(l logLine) []Finding {
	idx := s.n
	s.n++
	if flags, ok := taintFlags(l.text); ok {
		s.last = flags
	}
	var out []Finding
	if s.cur != nil && s.cur.timed && !l.hasTS {
		// On a console, user space writes between the kernel's lines
		// and even into them ("...mp=0x5da4c0[    2.294598]  schedule+0x28/0xa0").
		i := embeddedTS.FindStringIndex(l.raw)
		if i == nil {
			return out
		}
		l = parseLine([]byte(l.raw[i[0]:]))
	}
	if s.cur != nil {
		done, consumed := s.cur.add(l)
		if done {
			out = append(out, s.cur.finish())
			s.cur = nil
		}
		if consumed {
			return out
		}
	}
	pat, groups := match(l.text)
	if pat == nil {
		s.prologue(l, idx)
		return out
	}
	r := &report{pat: pat, groups: groups, timed: l.hasTS}
	r.f.Kind, r.f.Line = pat.kind, idx
	if l.hasTS {
		r.f.Time = l.ts
	}
	if len(s.pro) > 0 && !pat.single {
		r.f.Line = s.proStart
		for _, raw := range s.pro {
			r.append(raw)
		}
	}
	s.pro = s.pro[:0]
	r.append(l.raw)
	if pat.single {
		return append(out, r.finish())
	}
	s.cur = r
	return out
}

// prologue keeps a "cut here" line and what follows it until a header.
func (s *Scanner) prologue(l logLine, idx int) {
	switch {
	case cutHere.MatchString(l.text):
		s.pro, s.proStart = append(s.pro[:0], l.raw), idx
	case len(s.pro) > 0 && len(s.pro) < maxPrologue:
		s.pro = append(s.pro, l.raw)
	default:
		s.pro = s.pro[:0]
	}
}

// Flush ends the report in progress, at the end of a log.
func (s *Scanner) Flush() []Finding {
	if s.cur == nil {
		return nil
	}
	f := s.cur.finish()
	s.cur = nil
	return []Finding{f}
}

// Taint returns the taint flags of the latest "Tainted:" line fed, or ""
// if the kernel said it was not tainted or never said.
func (s *Scanner) Taint() string { return s.last }

// match finds the first pattern whose header matches text.
func match(text string) (*pattern, map[string]string) {
	for i := range patterns {
		p := &patterns[i]
		if !strings.Contains(text, p.key) {
			continue
		}
		m := p.start.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		groups := map[string]string{}
		for j, name := range p.start.SubexpNames() {
			if name != "" && m[j] != "" {
				groups[name] = m[j]
			}
		}
		return p, groups
	}
	return nil, nil
}

// add offers line l to the report. done: the report is over. consumed:
// the line belongs to it; otherwise the caller looks at it afresh.
func (r *report) add(l logLine) (done, consumed bool) {
	text := strings.TrimPrefix(l.text, r.pat.prefix)
	switch {
	case r.pat.end != nil && r.pat.end.MatchString(text):
		r.append(l.raw)
		return true, true
	case r.pat.end != nil:
		// A report cut short before its end line (records lost) ends
		// where the next one begins: no header or "cut here" is ever a
		// line of a sanitizer's report.
		if pat, _ := match(text); (pat != nil && pat.kind != KindTaint) || cutHere.MatchString(text) {
			return true, false
		}
	case r.inTrace:
		if !traceLine.MatchString(text) {
			return true, false
		}
	case cutHere.MatchString(text) && !restatedKinds[r.pat.kind]:
		return true, false // the next WARN or BUG begins
	default:
		if pat, groups := match(text); pat != nil && pat.kind != KindTaint {
			if !r.restatedBy(pat) {
				return true, false
			}
			// The same report told twice ("usercopy: ..." then "kernel
			// BUG at ..."): keep the first header's kind and take a
			// function the second names.
			if r.groups["func"] == "" && groups["func"] != "" {
				r.groups["func"], r.groups["module"] = groups["func"], groups["module"]
			}
		}
	}
	r.append(l.raw)
	r.note(text)
	switch {
	case endMarker.MatchString(text):
		return true, true
	case len(r.lines) >= maxReportLines || r.size >= maxReportBytes:
		return true, true
	case !r.inTrace:
		r.preTrace++
		if r.preTrace > maxPreTrace {
			return true, true
		}
	}
	return false, true
}

// restatedBy reports whether a header seen before the report's trace
// tells the report again rather than beginning another: the kernel
// follows some reports with the header of a harsher one ("kernel BUG at"
// after "usercopy:" or "list_add corruption", "WARNING:" after
// "refcount_t:", "Oops:" after a NULL pointer or paging fault). A
// report's own header, or a sanitizer's, begins another report: the one
// before was cut short.
func (r *report) restatedBy(p *pattern) bool {
	return restatedKinds[r.pat.kind] && p != r.pat && p.end == nil
}

// restatedKinds are the kinds of reports a second header may restate.
var restatedKinds = map[Kind]bool{
	KindUsercopy: true, KindListCorruption: true, KindRefcount: true,
	KindBUG: true, KindOops: true, KindGPF: true,
}

func (r *report) append(raw string) {
	if len(r.lines) < maxReportLines && r.size+len(raw) < maxReportBytes {
		r.lines = append(r.lines, raw)
		r.size += len(raw) + 1
	}
}

// note records what a report line says about where the fault happened.
func (r *report) note(text string) {
	if callTrace.MatchString(text) {
		r.inTrace = true
		r.stacks = append(r.stacks, stack{call: true})
		r.inStack = true
		return
	}
	if flags, ok := taintFlags(text); ok && r.f.Taint == "" {
		r.f.Taint = flags
	}
	if m := pcLine.FindStringSubmatch(text); m != nil {
		if fr, ok := parseFrame(m[2]); ok {
			pc := &r.f.PC
			if lrPrefixes[m[1]] {
				pc = &r.f.LR
			}
			if pc.IsZero() {
				*pc = fr
			}
		}
		return
	}
	for _, b := range r.pat.body {
		if m := b.FindStringSubmatch(text); m != nil {
			for j, name := range b.SubexpNames() {
				if _, ok := r.groups[name]; name != "" && m[j] != "" && !ok {
					r.groups[name] = m[j]
				}
			}
		}
	}
	fr, ok := parseFrame(text)
	switch {
	case ok && !r.inTrace && armFrame.MatchString(text):
		// 32-bit Arm prints no header before its trace: its first
		// "callee from caller+0x1/0x2" line begins it.
		r.inTrace = true
		r.stacks = append(r.stacks, stack{call: true, frames: []Frame{fr}})
		r.inStack = true
	case ok && r.inStack:
		st := &r.stacks[len(r.stacks)-1]
		if len(st.frames) < maxFrames {
			st.frames = append(st.frames, fr)
		}
	case ok:
		r.stacks = append(r.stacks, stack{frames: []Frame{fr}})
		r.inStack = true
	case stackEnd.MatchString(text), !traceLine.MatchString(text):
		r.inStack = false
	}
}

// trace is the report's call trace: the first stack introduced as one,
// else the first stack.
func (r *report) trace() []Frame {
	for _, st := range r.stacks {
		if st.call && len(st.frames) > 0 {
			return st.frames
		}
	}
	for _, st := range r.stacks {
		if len(st.frames) > 0 {
			return st.frames
		}
	}
	return nil
}

// parseFrame reads a frame line: "func+0x1a/0x40 [mod]", optionally after
// an old-style "[<address>]" and "? ", or a bare "0xffffffffc0a01234".
func parseFrame(text string) (Frame, bool) {
	m := frameLine.FindStringSubmatch(text)
	if m == nil {
		return Frame{}, false
	}
	fr := Frame{Unreliable: m[1] != "", Func: m[2], Module: m[5]}
	fr.Offset, _ = strconv.ParseUint(m[3], 16, 64)
	fr.Size, _ = strconv.ParseUint(m[4], 16, 64)
	fr.Addr, _ = strconv.ParseUint(m[6], 16, 64)
	return fr, true
}
