package event

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// The control channel: the host sends Commands, the agent answers each
// with one Reply carrying the same ID, one JSON object per line both ways.
// Events keep flowing on the event port meanwhile (a test run's Test events,
// kernel log records): replies carry only the command's own result. The
// agent starts with an unsolicited Reply of OpReady (ID 0) once it listens;
// the host sends nothing before it, so that no byte meets the port before
// the agent has turned off the terminal's echo.

// Op names a command.
type Op string

// Commands.
const (
	// OpReady is the agent's first reply, unasked: it is waiting for
	// commands. Kernel is set.
	OpReady Op = "ready"
	// OpRun runs the RunConfig's test binaries named in Tests (all when
	// empty), in order, each with Args after its own; Test events stream
	// on the event port as in a normal run. Results holds each exit.
	OpRun Op = "run"
	// OpReadFile returns the contents of Path (at most Max bytes, default
	// MaxFile) in Data; Truncated when there was more. For /proc, sysfs
	// and debugfs files, which report no size.
	OpReadFile Op = "read_file"
	// OpBlockedTasks dumps the tasks in uninterruptible sleep (sysrq w)
	// and OpCPUs every CPU's backtrace (sysrq l); Text holds the kernel
	// log records the dump wrote.
	OpBlockedTasks Op = "blocked_tasks"
	OpCPUs         Op = "cpus"
	// OpShell runs Shell (with Args) on the shell port (ParamShell) as a
	// session leader whose controlling terminal is that port, with Env
	// added to its environment, and answers when it exits; Results holds
	// its exit.
	OpShell Op = "shell"
	// OpPowerOff unloads the modules (if RunConfig.Unload), answers, and
	// powers the guest off.
	OpPowerOff Op = "poweroff"

	// Ops of the idle agent (ParamIdle), which also answers OpReadFile.
	// OpFresh makes a guest restored from a snapshot a fresh one: Seed
	// goes into the kernel's entropy pool (credited, and the random
	// generator reseeded from it) and Now sets the wall clock.
	OpFresh Op = "fresh"
	// OpUnpack extracts the newc cpio archive of Size bytes at Offset of
	// the memory the host shares with the guest (an ivshmem-plain PCI
	// device) into the root file system: the run's image layers.
	OpUnpack Op = "unpack"
	// OpStart ends the idle point: the agent says hello on the event port
	// and carries out the unpacked RunConfig as after a boot.
	OpStart Op = "start"
)

// MaxFile bounds what OpReadFile returns; MaxControlLine bounds one line of
// the channel (Data is base64 in JSON: 4/3 of the bytes, plus the rest).
const (
	MaxFile        = 1 << 20
	MaxControlLine = MaxFile/3*4 + 64<<10
)

// Command is one request of the host to the agent.
type Command struct {
	V  int    `json:"v"`
	ID uint64 `json:"id"`
	Op Op     `json:"op"`
	// OpRun
	Tests []string `json:"tests,omitempty"`
	Args  []string `json:"args,omitempty"`
	// OpShell
	Shell string   `json:"shell,omitempty"`
	Env   []string `json:"env,omitempty"`
	// Rows and Cols are the host terminal's size, given to the port.
	Rows int `json:"rows,omitempty"`
	Cols int `json:"cols,omitempty"`
	// OpReadFile
	Path string `json:"path,omitempty"`
	Max  int    `json:"max,omitempty"`
	// OpFresh: random bytes and the host's time (Unix nanoseconds)
	Seed []byte `json:"seed,omitempty"`
	Now  int64  `json:"now,omitempty"`
	// OpUnpack
	Offset int64 `json:"offset,omitempty"`
	Size   int64 `json:"size,omitempty"`
}

// Reply is the agent's answer to the Command with the same ID.
type Reply struct {
	V  int    `json:"v"`
	ID uint64 `json:"id"`
	Op Op     `json:"op"`
	// Err says why the command failed; a test failure is not one.
	Err    string `json:"err,omitempty"`
	Kernel string `json:"kernel,omitempty"`
	// OpReadFile
	Data      []byte `json:"data,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	// OpBlockedTasks, OpCPUs
	Text string `json:"text,omitempty"`
	// OpRun, OpShell
	Results []BinaryResult `json:"results,omitempty"`
}

// BinaryResult is how one test binary of an OpRun ended.
type BinaryResult struct {
	Binary string `json:"binary"`
	Exit   *Exit  `json:"exit,omitempty"`
	Err    string `json:"err,omitempty"`
}

// WriteLine writes v as one JSON line with a single Write, so that lines of
// concurrent writers never interleave on a port.
func WriteLine(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // kernel text is full of '<' and '>'
	if err := enc.Encode(v); err != nil {
		return err
	}
	if b.Len() > MaxControlLine {
		return fmt.Errorf("control line of %d bytes exceeds %d", b.Len(), MaxControlLine)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// LineReader reads the JSON lines of the control channel. Lines that are
// not JSON objects (noise on a serial line) are skipped; a line longer than
// MaxControlLine is an error.
type LineReader struct {
	r *bufio.Reader
}

// NewLineReader returns a LineReader reading from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// errLongLine reports a line past MaxControlLine.
var errLongLine = errors.New("control line too long")

// Read decodes the next JSON object line into v.
func (l *LineReader) Read(v any) error {
	for {
		var line []byte
		for {
			chunk, err := l.r.ReadSlice('\n')
			line = append(line, chunk...)
			if len(line) > MaxControlLine {
				return errLongLine
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				return err
			}
			break
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		if err := json.Unmarshal(line, v); err != nil {
			continue
		}
		return nil
	}
}

// Client is the host's end of the control channel. Its methods are safe for
// concurrent use; commands run one at a time.
type Client struct {
	mu sync.Mutex
	rw io.ReadWriter
	r  *LineReader
	id uint64
}

// NewClient returns a Client speaking over rw (the host end of the
// control port).
func NewClient(rw io.ReadWriter) *Client {
	return &Client{rw: rw, r: NewLineReader(rw)}
}

// deadliner is a channel whose blocked reads and writes a deadline ends.
type deadliner interface{ SetDeadline(time.Time) error }

// Ready waits for the agent's OpReady reply.
func (c *Client) Ready(ctx context.Context) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.await(ctx, 0, OpReady)
}

// Do sends cmd (its V and ID are set here) and returns the agent's reply.
// A reply whose Err is set is returned with that error too.
func (c *Client) Do(ctx context.Context, cmd Command) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	cmd.V, cmd.ID = Version, c.id
	stop := c.bound(ctx)
	err := WriteLine(c.rw, cmd)
	stop()
	if err != nil {
		return Reply{}, fmt.Errorf("control %s: %w", cmd.Op, err)
	}
	rep, err := c.await(ctx, cmd.ID, cmd.Op)
	if err == nil && rep.Err != "" {
		err = fmt.Errorf("control %s: %s", cmd.Op, rep.Err)
	}
	return rep, err
}

// Pipeline sends cmds at once, without waiting between them, and then
// reads their replies: one round trip for the lot. The agent runs them in
// order; the first failure is returned, after every reply was read. A
// command that must not run after a failed one has to be refused by the
// agent itself (OpStart is).
func (c *Client) Pipeline(ctx context.Context, cmds ...Command) ([]Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stop := c.bound(ctx)
	var err error
	for i := range cmds {
		c.id++
		cmds[i].V, cmds[i].ID = Version, c.id
		if err = WriteLine(c.rw, cmds[i]); err != nil {
			err = fmt.Errorf("control %s: %w", cmds[i].Op, err)
			break
		}
	}
	stop()
	if err != nil {
		return nil, err
	}
	reps := make([]Reply, len(cmds))
	var first error
	for i, cmd := range cmds {
		rep, err := c.await(ctx, cmd.ID, cmd.Op)
		if err != nil {
			return reps, err
		}
		reps[i] = rep
		if rep.Err != "" && first == nil {
			first = fmt.Errorf("control %s: %s", cmd.Op, rep.Err)
		}
	}
	return reps, first
}

// await reads replies until the one with id.
func (c *Client) await(ctx context.Context, id uint64, op Op) (Reply, error) {
	stop := c.bound(ctx)
	defer stop()
	for {
		var rep Reply
		if err := c.r.Read(&rep); err != nil {
			switch {
			case ctx.Err() != nil:
				err = ctx.Err()
			case errors.Is(err, os.ErrDeadlineExceeded):
				// The socket's deadline (ctx's) fired before ctx's
				// own timer.
				err = context.DeadlineExceeded
			}
			return Reply{}, fmt.Errorf("control %s: %w", op, err)
		}
		if rep.V != Version {
			return rep, fmt.Errorf("control %s: agent speaks version %d, host %d", op, rep.V, Version)
		}
		if rep.ID == id && rep.Op == op {
			return rep, nil
		}
	}
}

// bound makes ctx's end interrupt blocked I/O on a channel that takes
// deadlines (a socket); the returned function undoes it.
func (c *Client) bound(ctx context.Context) func() {
	d, ok := c.rw.(deadliner)
	if !ok {
		return func() {}
	}
	if dl, ok := ctx.Deadline(); ok {
		d.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { d.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		d.SetDeadline(time.Time{})
	}
}
