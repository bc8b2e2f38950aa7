package agent

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// beatWriter keeps the event stream and signals each heartbeat written.
type beatWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	beats chan struct{}
}

func (w *beatWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(`"type":"heartbeat"`)) {
		w.beats <- struct{}{}
	}
	return w.buf.Write(p)
}

func (w *beatWriter) events(t *testing.T) []event.Event {
	t.Helper()
	w.mu.Lock()
	d := event.NewDecoder(bytes.NewReader(bytes.Clone(w.buf.Bytes())))
	w.mu.Unlock()
	var evs []event.Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
}

// The agent beats at once, then only while it has nothing else to say:
// silence makes it beat, every later beat comes an interval or more after
// the event before it (so events keep it quiet), and none follows stop.
func TestHeartbeatOnlyInSilence(t *testing.T) {
	w := &beatWriter{beats: make(chan struct{}, 64)}
	a := &Agent{enc: event.NewEncoder(w)}
	const every = 200 * time.Millisecond
	h := a.startHeartbeat(every)
	if len(w.beats) != 1 {
		t.Fatalf("%d heartbeats from the start, want one at once", len(w.beats))
	}
	<-w.beats
	// Busy: an event every tenth of the interval, for three intervals.
	for range 30 {
		a.logf("busy")
		time.Sleep(every / 10)
	}
	// Silent: two beats come.
	for i := 0; i < 2; i++ {
		select {
		case <-w.beats:
		case <-time.After(10 * every):
			t.Fatalf("no heartbeat in %v of silence", 10*every)
		}
	}
	h.stop()
	select {
	case <-h.done:
	default:
		t.Fatal("stop returned while the heartbeat still ran")
	}
	evs := w.events(t)
	for i, ev := range evs {
		if ev.Type != event.Heartbeat || i == 0 {
			continue
		}
		if gap := time.Duration(ev.Mono - evs[i-1].Mono); gap < every {
			t.Errorf("heartbeat %d came %v after the %s before it, want at least %v", ev.Seq, gap, evs[i-1].Type, every)
		}
	}
	select {
	case <-w.beats:
		t.Error("a heartbeat after stop")
	case <-time.After(2 * every):
	}
	h.stop() // twice is harmless
}
