package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// browser is headless Chromium driven through the DevTools protocol over
// --remote-debugging-pipe (messages are JSON ended by a NUL byte, read
// from fd 3 and written to fd 4), so that a test can ask the page itself
// where an element lies and how long it took to render. A pipe needs no
// port and no WebSocket client; the few commands used here do not need a
// library (the module has none that speaks the protocol).
type browser struct {
	cmd     *exec.Cmd
	toChrom *os.File
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpMessage
	events  chan cdpMessage
	session string
	done    chan struct{}
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Message string `json:"message"`
}

// startBrowser starts Chromium (skipping the test when it is missing) with
// one blank page of width×height CSS pixels, and stops it when the test
// ends.
func startBrowser(t testing.TB, width, height int) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium: apt-get install -y chromium)")
	}
	profile := t.TempDir()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars", "--remote-debugging-pipe",
		"--user-data-dir="+profile, fmt.Sprintf("--window-size=%d,%d", width, height))
	cmd.ExtraFiles = []*os.File{inR, outW}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	b := &browser{cmd: cmd, toChrom: inW, pending: map[int]chan cdpMessage{}, events: make(chan cdpMessage, 1024), done: make(chan struct{})}
	go b.read(outR)
	t.Cleanup(func() {
		b.toChrom.Close()
		cancel()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	b.openPage(t, width, height)
	return b
}

func (b *browser) openPage(t testing.TB, width, height int) {
	t.Helper()
	var target struct{ TargetID string }
	b.call(t, "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call(t, "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	b.call(t, "Page.enable", nil, nil)
	b.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
}

// read hands each message Chromium writes to its caller or to events.
func (b *browser) read(r *os.File) {
	defer close(b.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID == 0 {
			select {
			case b.events <- m:
			default: // nobody waits for that many events
			}
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends one command to the page (or, before there is one, to the
// browser) and decodes its result into out.
func (b *browser) call(t testing.TB, method string, params, out any) {
	t.Helper()
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := json.Marshal(cdpMessage{ID: id, Method: method, Params: p, SessionID: b.session})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.toChrom.Write(append(msg, 0)); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
	case <-b.done:
		t.Fatalf("%s: chromium exited", method)
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: no answer in 2 minutes", method)
	}
}

// load opens url, waits for its load event and returns how long that took.
func (b *browser) load(t testing.TB, url string) time.Duration {
	t.Helper()
	for len(b.events) > 0 {
		<-b.events
	}
	start := time.Now()
	b.call(t, "Page.navigate", map[string]any{"url": url}, nil)
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case m := <-b.events:
			if m.Method == "Page.loadEventFired" {
				return time.Since(start)
			}
		case <-timeout:
			t.Fatalf("%s did not load in 2 minutes", url)
		}
	}
}

// eval runs a JavaScript expression in the page (awaiting it when it is a
// promise) and decodes its value into out.
func (b *browser) eval(t testing.TB, expr string, out any) {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if e := res.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg = e.Exception.Description
		}
		t.Fatalf("eval %q: %s", expr, msg)
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		t.Fatalf("eval %q: %v (value %s)", expr, err, res.Result.Value)
	}
}

// screenshot writes what the viewport shows as a PNG.
func (b *browser) screenshot(t testing.TB, path string) {
	t.Helper()
	var shot struct{ Data string }
	b.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
