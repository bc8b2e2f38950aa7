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

// The agent beats at once, then only while it has nothing else to say:
// events keep it quiet, silence makes it beat, and no beat follows stop.
func TestHeartbeatOnlyInSilence(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	a := &Agent{enc: event.NewEncoder(lockedWriter{&mu, &buf})}
	const every = 200 * time.Millisecond
	h := a.startHeartbeat(every)
	// Busy: an event every tenth of the interval, for three intervals.
	for range 30 {
		a.logf("busy")
		time.Sleep(every / 10)
	}
	busy := beats(t, &mu, &buf)
	time.Sleep(3 * every)
	h.stop()
	idle := beats(t, &mu, &buf)
	time.Sleep(2 * every)
	after := beats(t, &mu, &buf)
	if busy != 1 {
		t.Errorf("%d heartbeats while busy, want the first one only", busy)
	}
	if idle-busy < 2 || idle-busy > 4 {
		t.Errorf("%d heartbeats in three silent intervals, want 2 to 4", idle-busy)
	}
	if after != idle {
		t.Errorf("%d heartbeats after stop", after-idle)
	}
	h.stop() // twice is harmless
}

func beats(t *testing.T, mu *sync.Mutex, buf *bytes.Buffer) int {
	t.Helper()
	mu.Lock()
	d := event.NewDecoder(bytes.NewReader(buf.Bytes()))
	mu.Unlock()
	n := 0
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if ev.Type == event.Heartbeat {
			n++
		}
	}
}
