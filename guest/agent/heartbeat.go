package agent

import (
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// heartbeat sends Heartbeat events while the agent would otherwise be
// silent, so that the host can tell a test computing quietly from an agent
// that a kernel fault killed or stopped (event.HeartbeatInterval).
type heartbeat struct {
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

// startHeartbeat sends a Heartbeat at once, then one whenever the agent has
// sent nothing for every, until stop.
func (a *Agent) startHeartbeat(every time.Duration) *heartbeat {
	h := &heartbeat{stopCh: make(chan struct{}), done: make(chan struct{})}
	a.emit(event.Event{Type: event.Heartbeat})
	go func() {
		defer close(h.done)
		// Looked at four times an interval: the silence between two
		// events stays within a quarter of it past the interval.
		tick := time.NewTicker(every / 4)
		defer tick.Stop()
		for {
			select {
			case <-h.stopCh:
				return
			case <-tick.C:
			}
			if time.Duration(event.Monotonic()-a.lastSent.Load()) >= every {
				a.emit(event.Event{Type: event.Heartbeat})
			}
		}
	}()
	return h
}

// stop ends the heartbeats and returns once the last one is sent: the
// Done event that follows is the stream's last.
func (h *heartbeat) stop() {
	if h == nil {
		return
	}
	h.stopOnce.Do(func() { close(h.stopCh) })
	<-h.done
}
