package agent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

// kmsgBuf holds one /dev/kmsg record; the kernel rejects smaller reads with
// EINVAL and caps records (text plus dictionary) well below this.
const kmsgBuf = 16 << 10

// kmsgStream forwards every /dev/kmsg record, from the oldest one still in
// the kernel's buffer, as a Kmsg event. Its reads are non-blocking so that
// Drain can forward everything logged so far from any goroutine: the agent
// drains before reporting a test's end, so that a WARNING a test triggered
// precedes the test's result in the stream.
type kmsgStream struct {
	fd   int
	emit func(event.Event)

	mu      sync.Mutex
	buf     []byte
	next    uint64           // the sequence number the next record should have
	overrun bool             // a read failed with EPIPE since the last record
	capture *strings.Builder // when set, record texts are also collected
	stopped bool             // Stop was called: nothing more is sent

	faults faults // fault reports seen, for the binaries' stall watch
}

func openKmsg(emit func(event.Event)) (*kmsgStream, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	return &kmsgStream{fd: fd, emit: emit, buf: make([]byte, kmsgBuf)}, nil
}

// follow forwards records as they are logged, until the process ends.
func (k *kmsgStream) follow() {
	fds := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			k.emit(event.Event{Type: event.Log, Msg: "kmsg poll: " + err.Error()})
			return
		}
		k.Drain()
	}
}

// Drain forwards every record logged so far: one record as a Kmsg event,
// several (a boot's worth at first) as compressed batches, which the slow
// serial port moves several times faster.
func (k *kmsgStream) Drain() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	var pending []event.KmsgRecord
	raw := 0
	defer func() { k.send(pending) }()
	for {
		n, err := unix.Read(k.fd, k.buf)
		switch {
		case errors.Is(err, unix.EPIPE):
			// Records were overwritten before we read them; the next read
			// resumes at the oldest one left. The host sees the hole in
			// the records' sequence numbers; the log says when.
			k.overrun = true
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil || n <= 0:
			return
		}
		rec, ok := parseKmsg(k.buf[:n])
		if !ok {
			continue
		}
		if k.overrun && rec.Seq > k.next {
			k.emit(event.Event{Type: event.Log, Msg: fmt.Sprintf("kmsg: %d records lost (ring buffer overrun)", rec.Seq-k.next)})
		}
		k.overrun, k.next = false, rec.Seq+1
		k.faults.note(rec.Text)
		if k.capture != nil {
			k.capture.WriteString(rec.Text)
			k.capture.WriteByte('\n')
		}
		pending = append(pending, rec)
		if raw += len(rec.Text) + 64; raw >= event.MaxBatchRaw {
			k.send(pending)
			pending, raw = nil, 0
		}
	}
}

// Stop forwards what is left and then nothing more: the Done event that
// follows must be the stream's last, and the follower would otherwise
// race it with records logged meanwhile.
func (k *kmsgStream) Stop() {
	k.Drain()
	k.mu.Lock()
	k.stopped = true
	k.mu.Unlock()
}

// send emits records: alone, or batched in events that fit a line.
func (k *kmsgStream) send(recs []event.KmsgRecord) {
	switch len(recs) {
	case 0:
		return
	case 1:
		k.emit(event.Event{Type: event.Kmsg, Kmsg: &recs[0]})
		return
	}
	b, err := event.NewBatch(recs)
	if err != nil || len(b.Gzip) > event.MaxLine-1024 {
		// Incompressible records: halve until each batch fits.
		k.send(recs[:len(recs)/2])
		k.send(recs[len(recs)/2:])
		return
	}
	k.emit(event.Event{Type: event.KmsgBatch, Batch: b})
}

// Capture drains the log, runs fn, and returns the text of the records fn
// caused to be logged (besides forwarding them as usual).
func (k *kmsgStream) Capture(fn func()) string {
	k.Drain()
	var b strings.Builder
	k.mu.Lock()
	k.capture = &b
	k.mu.Unlock()
	fn()
	k.Drain()
	k.mu.Lock()
	k.capture = nil
	k.mu.Unlock()
	return b.String()
}

// parseKmsg parses one record as /dev/kmsg returns it:
// "prefix,seq,usec,flags[,...];text\n" followed by dictionary lines
// " KEY=VALUE\n", which are dropped. The kernel escapes unprintable bytes
// and backslashes in the text as \xNN; they are restored.
func parseKmsg(b []byte) (event.KmsgRecord, bool) {
	head, rest, ok := bytes.Cut(b, []byte(";"))
	if !ok {
		return event.KmsgRecord{}, false
	}
	text, _, _ := bytes.Cut(rest, []byte("\n"))
	f := strings.Split(string(head), ",")
	if len(f) < 4 {
		return event.KmsgRecord{}, false
	}
	prefix, err1 := strconv.Atoi(f[0])
	seq, err2 := strconv.ParseUint(f[1], 10, 64)
	usec, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return event.KmsgRecord{}, false
	}
	return event.KmsgRecord{
		Seq:      seq,
		Level:    prefix & 7,
		Facility: prefix >> 3,
		Usec:     usec,
		Text:     unescapeKmsg(text),
		Cont:     strings.Contains(f[3], "c"),
	}, true
}

func unescapeKmsg(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if v, err := strconv.ParseUint(string(b[i+2:i+4]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 3
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}
