package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// lineStart begins every encoded line (V is Event's first field). It cannot
// occur inside an encoded string, whose quotes are escaped, so its last
// occurrence in a damaged line is where the last intact event may start.
var lineStart = []byte(`{"v":`)

var errNotObject = errors.New("not a JSON object")

// Stats counts what a Decoder read and what it skipped.
type Stats struct {
	Events       uint64 // events returned
	Garbage      uint64 // lines that held no event
	Truncated    uint64 // lines that ended inside an event
	WrongVersion uint64 // events of another protocol version
	Oversized    uint64 // lines longer than MaxLine, discarded unread
	Recovered    uint64 // events found after junk on their line
}

// A Decoder reads Events from an NDJSON stream that may be damaged: it skips
// (and counts) what is not a whole event of this Version, and holds at most
// MaxLine bytes of a line in memory.
type Decoder struct {
	r     *bufio.Reader
	line  []byte
	stats Stats
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 16<<10)}
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats { return d.stats }

// Next returns the next intact event. Its error is the reader's: io.EOF at
// the end of the stream, never a complaint about the stream's content.
func (d *Decoder) Next() (Event, error) {
	for {
		line, err := d.readLine()
		if len(line) > 0 {
			if ev, ok := d.parse(line, err != nil); ok {
				return ev, nil
			}
		}
		if err != nil {
			return Event{}, err
		}
	}
}

// readLine returns the next line without its newline, discarding (and
// counting) lines longer than MaxLine as it reads them. A non-nil error comes
// with the stream's last, unterminated line, if any.
func (d *Decoder) readLine() ([]byte, error) {
	d.line = d.line[:0]
	oversized := false
	for {
		chunk, err := d.r.ReadSlice('\n')
		if !oversized && len(d.line)+len(chunk) > MaxLine {
			oversized = true
			d.stats.Oversized++
			d.line = d.line[:0]
		}
		if !oversized {
			d.line = append(d.line, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return d.line, err
		case oversized:
			// The line ended: start over with the next one.
			oversized = false
			continue
		}
		return bytes.TrimSuffix(d.line, []byte("\n")), nil
	}
}

// parse decodes one line, falling back to the last lineStart in it when
// stray bytes came before the event. atEOF marks a line that had no newline.
func (d *Decoder) parse(line []byte, atEOF bool) (Event, bool) {
	line = bytes.TrimRight(line, " \t\r\x00")
	if len(bytes.TrimSpace(line)) == 0 {
		return Event{}, false
	}
	ev, err := decodeOne(line)
	recovered := false
	if err != nil {
		if i := bytes.LastIndex(line, lineStart); i > 0 {
			ev, err = decodeOne(line[i:])
			recovered = err == nil
		}
	}
	switch {
	case err == nil && ev.V != Version:
		d.stats.WrongVersion++
		return Event{}, false
	case err == nil:
		d.stats.Events++
		if recovered {
			d.stats.Recovered++
		}
		return ev, true
	case errors.Is(err, io.ErrUnexpectedEOF) || atEOF:
		d.stats.Truncated++
	default:
		d.stats.Garbage++
	}
	return Event{}, false
}

// decodeOne decodes a line holding exactly one JSON object. A line that ends
// inside the object yields io.ErrUnexpectedEOF.
func decodeOne(b []byte) (Event, error) {
	var ev Event
	if b[0] != '{' {
		return Event{}, errNotObject
	}
	var syn *json.SyntaxError
	err := json.Unmarshal(b, &ev)
	if errors.As(err, &syn) && syn.Offset == int64(len(b)) && bytes.HasPrefix(b, lineStart) {
		return Event{}, io.ErrUnexpectedEOF
	}
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}
