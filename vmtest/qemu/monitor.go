package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// qmpDialTimeout bounds how long QEMU may take to create its QMP socket.
const qmpDialTimeout = 30 * time.Second

// errExited reports that QEMU exited before its monitor answered.
var errExited = errors.New("qemu exited")

// monitor wraps go-qemu's QMP socket with what a VM needs: a bounded
// connect, commands with timeouts, and the events that end a run.
type monitor struct {
	mon *qmp.SocketMonitor
	cmd sync.WaitGroup // commands still waiting for an answer
	evs sync.WaitGroup // the event reader

	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool   // no more commands: close waits for those running
	shutdown string // reason of the SHUTDOWN event
	panicked bool   // GUEST_PANICKED seen
}

// connectMonitor dials QEMU's QMP socket until it appears (QEMU waits for
// this connection before it starts the guest, so no event is missed) and
// performs the capabilities handshake.
func connectMonitor(path string, exited <-chan struct{}) (*monitor, error) {
	deadline := time.Now().Add(qmpDialTimeout)
	for {
		mon, err := qmp.NewSocketMonitor("unix", path, time.Second)
		if err == nil {
			done := make(chan error, 1)
			go func() { done <- mon.Connect() }()
			select {
			case err = <-done:
			case <-exited:
				// The socket closes with QEMU, so Connect returns soon.
				<-done
				return nil, errExited
			}
			if err != nil {
				return nil, fmt.Errorf("qmp handshake: %w", err)
			}
			m := &monitor{mon: mon}
			m.watch()
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dial qmp %s: %w", path, err)
		}
		select {
		case <-exited:
			return nil, errExited
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// watch reads events until the connection closes. go-qemu blocks its reader
// on an unread event, so every event must be consumed.
func (m *monitor) watch() {
	events, _ := m.mon.Events(context.Background())
	m.evs.Add(1)
	go func() {
		defer m.evs.Done()
		for ev := range events {
			m.mu.Lock()
			switch ev.Event {
			case "SHUTDOWN":
				if r, ok := ev.Data["reason"].(string); ok && m.shutdown == "" {
					m.shutdown = r
				}
			case "GUEST_PANICKED":
				m.panicked = true
			}
			m.mu.Unlock()
		}
	}()
}

// state returns what the events said about the end of the run.
func (m *monitor) state() (shutdown string, panicked bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shutdown, m.panicked
}

// run executes a QMP command, giving up after timeout. A command left
// waiting returns when the connection closes.
func (m *monitor) run(execute string, args any, timeout time.Duration) (json.RawMessage, error) {
	cmd := map[string]any{"execute": execute}
	if args != nil {
		cmd["arguments"] = args
	}
	raw, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	type answer struct {
		b   []byte
		err error
	}
	ch := make(chan answer, 1)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("qmp %s: %w", execute, errExited)
	}
	m.cmd.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.cmd.Done()
		b, err := m.mon.Run(raw)
		ch <- answer{b, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("qmp %s: %w", execute, a.err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
		}
		if err := json.Unmarshal(a.b, &resp); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", execute, err)
		}
		return resp.Return, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("qmp %s: no answer in %v", execute, timeout)
	}
}

// hmp runs a human monitor command and returns its text output.
func (m *monitor) hmp(command string, timeout time.Duration) (string, error) {
	ret, err := m.run("human-monitor-command", map[string]string{"command-line": command}, timeout)
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(ret, &s); err != nil {
		return "", fmt.Errorf("hmp %s: %w", command, err)
	}
	return s, nil
}

// close waits for the event reader to see QEMU's end of the socket (so the
// last SHUTDOWN event is read), then disconnects and waits for every helper
// goroutine. QEMU must have exited.
func (m *monitor) close() {
	m.closeOnce.Do(m.doClose)
}

func (m *monitor) doClose() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.evs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// go-qemu's reader blocks reporting a read error nobody asked
		// for; Disconnect drains it.
	}
	_ = m.mon.Disconnect()
	m.evs.Wait()
	m.cmd.Wait()
}

// commandTimeout bounds a caller's QMP command: QEMU answers at once unless
// it is wedged, and a migration or snapshot reports progress in events.
const commandTimeout = 30 * time.Second

// QMP runs a QMP command (execute, with args marshalled as its arguments,
// nil for none) and returns its "return" value. After the VM has ended it
// fails.
func (v *VM) QMP(execute string, args any) (json.RawMessage, error) {
	if v.mon == nil {
		return nil, fmt.Errorf("qmp %s: no monitor: %w", execute, errExited)
	}
	return v.mon.run(execute, args, commandTimeout)
}

// HumanMonitorCommand runs a human monitor command ("info registers -a")
// and returns its text.
func (v *VM) HumanMonitorCommand(command string) (string, error) {
	if v.mon == nil {
		return "", fmt.Errorf("hmp %s: no monitor: %w", command, errExited)
	}
	return v.mon.hmp(command, commandTimeout)
}

// Stop pauses the guest's CPUs; Cont resumes them.
func (v *VM) Stop() error { _, err := v.QMP("stop", nil); return err }

// Cont resumes a stopped guest.
func (v *VM) Cont() error { _, err := v.QMP("cont", nil); return err }
