package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// truncMark ends a string payload that was cut to keep its line under MaxLine.
const truncMark = "…[truncated]"

// An Encoder writes Events as NDJSON lines. It is safe for concurrent use:
// every line is written with a single Write call, in Seq order.
type Encoder struct {
	mu  sync.Mutex
	w   io.Writer
	seq uint64
	buf bytes.Buffer
	// now returns CLOCK_MONOTONIC in nanoseconds; tests replace it.
	now func() int64
}

// Monotonic returns CLOCK_MONOTONIC in nanoseconds, the clock of Event.Mono
// and of kernel log timestamps.
func Monotonic() int64 { return monotonic() }

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, now: monotonic}
}

// Encode sets ev's V, Seq and, unless the caller set it to when the
// reported thing happened, Mono, and writes it as one line of at most
// MaxLine bytes, cutting its longest string payloads if needed. The caller's
// Event and the structs it points to are not modified.
func (e *Encoder) Encode(ev Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	ev.V, ev.Seq = Version, e.seq
	if ev.Mono == 0 {
		ev.Mono = e.now()
	}
	if err := e.marshal(&ev); err != nil {
		return err
	}
	if e.buf.Len() > MaxLine {
		copyPayloads(&ev)
		for e.buf.Len() > MaxLine {
			if !cutLongest(&ev, e.buf.Len()-MaxLine) {
				return fmt.Errorf("encode %s event: %d bytes without payload", ev.Type, e.buf.Len())
			}
			if err := e.marshal(&ev); err != nil {
				return err
			}
		}
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return fmt.Errorf("write %s event: %w", ev.Type, err)
	}
	return nil
}

func (e *Encoder) marshal(ev *Event) error {
	e.buf.Reset()
	enc := json.NewEncoder(&e.buf)
	// Kernel logs are full of '<' and '>': HTML escaping would triple them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Type, err)
	}
	return nil
}

// copyPayloads gives ev private copies of the structs it points to, so that
// cutting their strings leaves the caller's values alone.
func copyPayloads(ev *Event) {
	if ev.Module != nil {
		m := *ev.Module
		ev.Module = &m
	}
	if ev.Test != nil {
		t := *ev.Test
		ev.Test = &t
	}
	if ev.Exit != nil {
		x := *ev.Exit
		ev.Exit = &x
	}
	if ev.Kmsg != nil {
		k := *ev.Kmsg
		ev.Kmsg = &k
	}
	if ev.Point != nil {
		p := *ev.Point
		ev.Point = &p
	}
}

// payloads lists every string of ev that may be cut.
func payloads(ev *Event) []*string {
	p := []*string{&ev.Kernel, &ev.Binary, &ev.Suite, &ev.Msg, &ev.Err}
	if ev.Module != nil {
		p = append(p, &ev.Module.Name, &ev.Module.Path, &ev.Module.Params)
	}
	if ev.Test != nil {
		p = append(p, &ev.Test.Action, &ev.Test.Package, &ev.Test.Test, &ev.Test.Output)
	}
	if ev.Exit != nil {
		p = append(p, &ev.Exit.Signal, &ev.Exit.BlockedTasks)
	}
	if ev.Kmsg != nil {
		p = append(p, &ev.Kmsg.Text)
	}
	return p
}

// cutLongest shortens the longest payload so that its encoding loses at
// least excess bytes, and reports whether there was anything left to cut.
func cutLongest(ev *Event, excess int) bool {
	var longest *string
	width := 0
	for _, s := range payloads(ev) {
		if w := jsonWidth(*s); longest == nil || w > width {
			longest, width = s, w
		}
	}
	if longest == nil || *longest == "" {
		return false
	}
	budget := width - excess - len(truncMark)
	keep, w := 0, 0
	for i, r := range *longest {
		rw := runeWidth(r, *longest, i)
		if w+rw > budget {
			break
		}
		w += rw
		keep = i + len(string(r))
		if r == utf8.RuneError {
			keep = i + 1
		}
	}
	if keep == 0 {
		*longest = ""
		return true
	}
	*longest = (*longest)[:keep] + truncMark
	return true
}

// jsonWidth is the length of s inside a JSON string, as encoding/json
// writes it without HTML escaping.
func jsonWidth(s string) int {
	w := 0
	for i, r := range s {
		w += runeWidth(r, s, i)
	}
	return w
}

// runeWidth is the encoded width of the rune r found at s[i].
func runeWidth(r rune, s string, i int) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '\u2028' || r == '\u2029':
		return 6
	case r == utf8.RuneError:
		if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
			return 6 // an invalid byte becomes \ufffd
		}
		return 3
	}
	return utf8.RuneLen(r)
}
