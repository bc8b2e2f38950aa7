package qemu

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// panicMarker starts the line the kernel prints when it panics.
var panicMarker = []byte("Kernel panic - not syncing")

const (
	maxLine    = 4 << 10  // console lines are cut to this for matching
	maxCapture = 64 << 10 // bound of Result.Backtrace and Result.Stderr
)

// console copies the guest's console (its first serial port) to the caller
// and watches it line by line for a kernel panic. A failing caller writer
// never stalls the guest: the pipe is always drained.
type console struct {
	out     io.Writer
	start   time.Time
	onPanic func(string)
	panicCh chan struct{} // closed at the first panic line

	mu        sync.Mutex
	panicLine string
	panicAt   time.Duration
	capturing bool
	capture   bytes.Buffer

	line []byte
}

func newConsole(out io.Writer, start time.Time, onPanic func(string)) *console {
	if out == nil {
		out = io.Discard
	}
	return &console{out: out, start: start, onPanic: onPanic, panicCh: make(chan struct{})}
}

// run copies r until EOF, which comes when QEMU exits.
func (c *console) run(r *os.File) {
	defer r.Close()
	buf := make([]byte, 32<<10)
	out := c.out
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if out != nil {
				if _, werr := out.Write(buf[:n]); werr != nil {
					out = nil
				}
			}
			c.scan(buf[:n])
		}
		if err != nil {
			if len(c.line) > 0 {
				c.endLine()
			}
			return
		}
	}
}

func (c *console) scan(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.appendLine(b)
			return
		}
		c.appendLine(b[:i])
		c.endLine()
		b = b[i+1:]
	}
}

func (c *console) appendLine(b []byte) {
	if room := maxLine - len(c.line); room < len(b) {
		b = b[:max(room, 0)]
	}
	c.line = append(c.line, b...)
}

func (c *console) endLine() {
	line := bytes.TrimRight(c.line, "\r")
	c.line = c.line[:0]
	c.mu.Lock()
	if c.capturing && c.capture.Len()+len(line) < maxCapture {
		c.capture.Write(line)
		c.capture.WriteByte('\n')
	}
	first := false
	if c.panicLine == "" && bytes.Contains(line, panicMarker) {
		c.panicLine = string(line)
		c.panicAt = time.Since(c.start)
		first = true
	}
	c.mu.Unlock()
	if first {
		close(c.panicCh)
		if c.onPanic != nil {
			c.onPanic(string(line))
		}
	}
}

// startCapture keeps every following line for Result.Backtrace.
func (c *console) startCapture() {
	c.mu.Lock()
	c.capturing = true
	c.mu.Unlock()
}

// takeCapture returns what was captured and starts over.
func (c *console) takeCapture() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.capture.String()
	c.capture.Reset()
	return s
}

func (c *console) capturedLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capture.Len()
}

func (c *console) captured() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capture.String()
}

func (c *console) panicked() (string, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.panicLine, c.panicAt
}

// drain copies r to w until EOF, and keeps reading after w fails so that the
// guest never blocks on a full pipe.
func drain(w io.Writer, r *os.File) {
	defer r.Close()
	if w == nil {
		w = io.Discard
	}
	_, err := io.Copy(w, r)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		_, _ = io.Copy(io.Discard, r)
	}
}

// tail is a concurrency-safe writer keeping the last maxCapture bytes.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - maxCapture; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
