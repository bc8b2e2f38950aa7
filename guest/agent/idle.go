package agent

import (
	"errors"
	"fmt"
	"io"

	"github.com/kmodvm/kmodvm/guest/event"
)

// idle is the agent's idle point (event.ParamIdle): booted on the base
// image alone, it waits on the control port. A host saves the VM's state
// here, once per kernel and machine; every guest restored from it gets its
// entropy and clock (OpFresh) and its run's image layers (OpUnpack) from
// the host, and OpStart sends it on as if it had booted with them. It
// returns when OpStart was answered.
func (a *Agent) idle() error {
	port, send, err := a.openControl()
	if err != nil {
		return err
	}
	defer port.Close()
	defer drain(port)
	var share *sharedMemory
	defer func() {
		if share != nil {
			share.Close()
		}
	}()
	r := event.NewLineReader(port)
	for {
		var cmd event.Command
		if err := r.Read(&cmd); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("control channel closed by the host before the run started")
			}
			return fmt.Errorf("control channel: %w", err)
		}
		rep := event.Reply{ID: cmd.ID, Op: cmd.Op}
		var err error
		switch {
		case cmd.V != event.Version:
			err = fmt.Errorf("command of version %d, agent speaks %d", cmd.V, event.Version)
		case cmd.Op == event.OpFresh:
			err = freshen(cmd.Seed, cmd.Now)
		case cmd.Op == event.OpUnpack:
			if share == nil {
				share, err = openShare()
			}
			if err == nil {
				err = share.unpack(cmd.Offset, cmd.Size, "/")
			}
		case cmd.Op == event.OpReadFile:
			rep.Data, rep.Truncated, err = readLimited(cmd.Path, cmd.Max)
		case cmd.Op == event.OpStart:
		default:
			err = fmt.Errorf("unknown command %q at the idle point", cmd.Op)
		}
		if err != nil {
			rep.Err = err.Error()
		}
		if err := send(rep); err != nil {
			return err
		}
		if cmd.Op == event.OpStart {
			return nil
		}
	}
}
