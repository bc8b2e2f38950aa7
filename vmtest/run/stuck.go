package run

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
)

// wedging are the kinds of kernel report after which a guest may never
// answer again: the task that hit them died where it stood, maybe holding
// what everything else waits for, or the kernel's memory is no longer to
// be trusted (a page freed while mapped), or a CPU does not come back.
// Warnings, hung tasks and sanitizer reports of a live kernel are not
// among them.
var wedging = map[dmesg.Kind]bool{
	dmesg.KindOops: true, dmesg.KindGPF: true, dmesg.KindBUG: true, dmesg.KindKASAN: true,
	dmesg.KindKFENCE: true, dmesg.KindPanic: true, dmesg.KindRCUStall: true,
	dmesg.KindSoftLockup: true, dmesg.KindHardLockup: true, dmesg.KindUsercopy: true,
	dmesg.KindListCorruption: true,
}

// stuckPolicy decides when a guest is stuck after the kernel reported a
// fault (in the kernel log the agent streams, or on the console, which the
// host reads itself and which outlives the agent):
//
//   - the agent sent nothing since, not even a heartbeat, for the grace:
//     the fault killed or stopped it, or it cannot run; or
//   - a test binary runs and the agent sent nothing of its run since (test
//     output, a binary's end; heartbeats and kernel log records do not
//     count) for the grace and runReserve: its own fault grace would have
//     ended a silent binary by then, so the agent lives (a heartbeat
//     goroutine, a kernel log reader) but its run does not move, as when
//     the fault corrupted its memory.
//
// An agent that never sent a heartbeat (one older than heartbeats) is never
// judged stuck. It is pure logic: the caller passes the times.
type stuckPolicy struct {
	grace    time.Duration // none when not positive
	beating  bool          // the agent sends heartbeats
	fault    string        // the first fault report's header
	faultAt  time.Time     // when it was seen
	heardAt  time.Time     // the agent's latest event
	movedAt  time.Time     // the latest event of the agent's run
	inBinary bool          // a test binary runs
}

// heard notes an event of type ty that arrived at at.
func (p *stuckPolicy) heard(at time.Time, ty event.Type) {
	p.heardAt = at
	switch ty {
	case event.Heartbeat:
		p.beating = true
		return
	case event.Kmsg, event.KmsgBatch:
		return
	case event.BinaryStart:
		p.inBinary = true
	case event.BinaryEnd:
		p.inBinary = false
	}
	p.movedAt = at
}

// logged notes a kernel log line (a record's text or a console line) read
// at at.
func (p *stuckPolicy) logged(at time.Time, line []byte) {
	if p.fault != "" {
		return
	}
	if kind, text, ok := dmesg.Header(line); ok && wedging[kind] {
		p.fault, p.faultAt = text, at
	}
}

// stuck says whether the guest is stuck at now, and why.
func (p *stuckPolicy) stuck(now time.Time) (string, bool) {
	if p.grace <= 0 || !p.beating || p.fault == "" {
		return "", false
	}
	if now.Sub(later(p.faultAt, p.heardAt)) >= p.grace {
		return fmt.Sprintf("the guest agent sent nothing for %s after the kernel reported %q", p.grace, p.fault), true
	}
	if p.inBinary && now.Sub(later(p.faultAt, p.movedAt)) >= p.grace+runReserve {
		return fmt.Sprintf("the guest agent's run made no progress for %s after the kernel reported %q, though the agent lived (its fault grace, %s, did not end the test)",
			p.grace+runReserve, p.fault, p.grace), true
	}
	return "", false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// stuckTick is how often a stuckWatch looks at its policy: the VM's end
// comes at most this much later than the grace allows.
const stuckTick = 250 * time.Millisecond

// stuckWatch runs a stuckPolicy on one VM as it runs: the collector tells
// it of events and kernel log records, the console is written to it, and
// when the policy says stuck it sends the cause on ends, which the VM
// (qemu.Config.Stuck) takes as the order to end. Safe for concurrent use.
type stuckWatch struct {
	mu   sync.Mutex
	p    stuckPolicy
	line []byte // the console's unfinished line

	ends    chan string
	endedAt time.Time // when the watch sent the cause
	stop    chan struct{}
	done    chan struct{}
}

// watchStuck starts a watch with the grace (none when not positive).
func watchStuck(grace time.Duration) *stuckWatch {
	w := &stuckWatch{p: stuckPolicy{grace: grace}, ends: make(chan string, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *stuckWatch) run() {
	defer close(w.done)
	if w.p.grace <= 0 {
		<-w.stop
		return
	}
	tick := time.NewTicker(stuckTick)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-tick.C:
			w.mu.Lock()
			cause, ok := w.p.stuck(now)
			if ok {
				w.endedAt = now
				w.mu.Unlock()
				w.ends <- cause
				return
			}
			w.mu.Unlock()
		}
	}
}

// heard is collect.Options.Heard.
func (w *stuckWatch) heard(ty event.Type) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.p.heard(time.Now(), ty)
}

// record is collect.Options.Record.
func (w *stuckWatch) record(text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.p.logged(time.Now(), []byte(text))
}

// Write takes the console's output, line by line.
func (w *stuckWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for rest := b; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(w.line) < maxLineWatched {
				w.line = append(w.line, rest[:min(len(rest), maxLineWatched-len(w.line))]...)
			}
			break
		}
		w.line = append(w.line, rest[:min(i, max(maxLineWatched-len(w.line), 0))]...)
		w.p.logged(now, w.line)
		w.line, rest = w.line[:0], rest[i+1:]
	}
	return len(b), nil
}

// maxLineWatched bounds the console line a stuckWatch keeps: a report's
// header is short.
const maxLineWatched = 1 << 10

// close ends the watch once the VM has ended, and says when the fault it
// saw first was seen and when it told the VM to end (zero when it did not).
func (w *stuckWatch) close() (faultAt, endedAt time.Time) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.p.faultAt, w.endedAt
}
