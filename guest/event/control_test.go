package event

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every command and reply survives a trip through the line codec.
func TestControlRoundTrip(t *testing.T) {
	msgs := []any{
		&Command{V: Version, ID: 1, Op: OpRun, Tests: []string{"mmapdrv"}, Args: []string{"-test.run=TestOpen"}},
		&Command{V: Version, ID: 2, Op: OpReadFile, Path: "/sys/kernel/debug/kmemleak", Max: 4096},
		&Command{V: Version, ID: 3, Op: OpBlockedTasks},
		&Command{V: Version, ID: 4, Op: OpPowerOff},
		&Command{V: Version, ID: 5, Op: OpFresh, Seed: []byte{0, 1, 0xfe, 0xff}, Now: 1764669600123456789},
		&Command{V: Version, ID: 6, Op: OpUnpack, Offset: 4096, Size: 3 << 20},
		&Command{V: Version, ID: 7, Op: OpStart},
		&Reply{V: Version, ID: 0, Op: OpReady, Kernel: "6.1.0-28-amd64"},
		&Reply{V: Version, ID: 2, Op: OpReadFile, Data: []byte("bin\x00ary <data>\n"), Truncated: true},
		&Reply{V: Version, ID: 3, Op: OpBlockedTasks, Text: "task:cat state:D\nCall Trace:\n <TASK>\n"},
		&Reply{V: Version, ID: 1, Op: OpRun, Results: []BinaryResult{
			{Binary: "mmapdrv", Exit: &Exit{Code: 1, Elapsed: 2.5}},
			{Binary: "other", Err: "start: no such file"},
		}},
		&Reply{V: Version, ID: 9, Op: OpReadFile, Err: "open /nope: no such file or directory"},
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := WriteLine(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != len(msgs) {
		t.Fatalf("%d lines for %d messages", n, len(msgs))
	}
	r := NewLineReader(&buf)
	for _, want := range msgs {
		got := reflect.New(reflect.TypeOf(want).Elem()).Interface()
		if err := r.Read(got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read %+v, want %+v", got, want)
		}
	}
	if err := r.Read(new(Reply)); !errors.Is(err, io.EOF) {
		t.Errorf("after the last line: %v, want EOF", err)
	}
}

// A serial line may carry noise before the agent sets it up; the reader
// skips what is not a JSON object and refuses a runaway line.
func TestLineReaderSkipsNoise(t *testing.T) {
	in := "\x00\x00garbage\r\n\n{not json\n" + `{"v":1,"id":0,"op":"ready"}` + "\n"
	var rep Reply
	if err := NewLineReader(strings.NewReader(in)).Read(&rep); err != nil || rep.Op != OpReady {
		t.Fatalf("Read = %+v, %v", rep, err)
	}
	long := "{" + strings.Repeat("x", MaxControlLine) + "}\n"
	if err := NewLineReader(strings.NewReader(long)).Read(&rep); !errors.Is(err, errLongLine) {
		t.Errorf("long line: %v, want errLongLine", err)
	}
	if err := WriteLine(io.Discard, &Reply{Data: make([]byte, MaxFile+MaxFile/2)}); err == nil {
		t.Error("WriteLine wrote a line past MaxControlLine")
	}
	if err := WriteLine(io.Discard, &Reply{Data: make([]byte, MaxFile)}); err != nil {
		t.Errorf("a whole MaxFile read does not fit a line: %v", err)
	}
}

// The client numbers commands, waits for the matching reply (skipping
// stale ones) and turns a reply's Err into an error.
func TestClientMatchesReplies(t *testing.T) {
	host, guest := net.Pipe()
	defer host.Close()
	go func() {
		defer guest.Close()
		WriteLine(guest, Reply{V: Version, Op: OpReady, Kernel: "k"})
		r := NewLineReader(guest)
		for {
			var cmd Command
			if r.Read(&cmd) != nil {
				return
			}
			// A stale reply first: the client must not take it.
			WriteLine(guest, Reply{V: Version, ID: cmd.ID + 100, Op: cmd.Op})
			rep := Reply{V: Version, ID: cmd.ID, Op: cmd.Op, Text: cmd.Path}
			if cmd.Op == OpReadFile && cmd.Path == "/nope" {
				rep.Err = "no such file"
			}
			WriteLine(guest, rep)
		}
	}()
	c := NewClient(host)
	ctx := context.Background()
	if rep, err := c.Ready(ctx); err != nil || rep.Kernel != "k" {
		t.Fatalf("Ready = %+v, %v", rep, err)
	}
	rep, err := c.Do(ctx, Command{Op: OpReadFile, Path: "/proc/version"})
	if err != nil || rep.ID != 1 || rep.Text != "/proc/version" {
		t.Errorf("Do = %+v, %v", rep, err)
	}
	if _, err := c.Do(ctx, Command{Op: OpReadFile, Path: "/nope"}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a failed command returned %v", err)
	}
}

// A context's end interrupts a client waiting on a silent agent.
func TestClientHonoursContext(t *testing.T) {
	host, guest := net.Pipe()
	defer host.Close()
	defer guest.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := NewClient(host).Ready(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Ready on a silent agent: %v after %v", err, time.Since(start))
	}
}

func TestRunConfigKUnitRoundTrips(t *testing.T) {
	b, err := json.Marshal(RunConfig{V: Version, KUnit: true})
	if err != nil {
		t.Fatal(err)
	}
	var cfg RunConfig
	if err := json.Unmarshal(b, &cfg); err != nil || !cfg.KUnit {
		t.Errorf("RunConfig %s decoded to %+v (%v): KUnit lost", b, cfg, err)
	}
}
