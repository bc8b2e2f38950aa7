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
	// The shared memory is found and mapped before the host saves the
	// state: under TCG that took 20-80 ms of every restore.
	share, shareErr := openShare()
	if share != nil {
		defer share.Close()
	}
	port, send, err := a.openControl()
	if err != nil {
		return err
	}
	defer port.Close()
	defer drain(port)
	return idleCommands(event.NewLineReader(port), send, func(cmd event.Command) (rep event.Reply, err error) {
		switch cmd.Op {
		case event.OpFresh:
			err = freshen(cmd.Seed, cmd.Now)
		case event.OpUnpack:
			if err = shareErr; share != nil {
				err = share.unpack(cmd.Offset, cmd.Size, "/")
			}
		case event.OpReadFile:
			rep.Data, rep.Truncated, err = readLimited(cmd.Path, cmd.Max)
		default:
			err = fmt.Errorf("unknown command %q at the idle point", cmd.Op)
		}
		return rep, err
	})
}

// idleCommands reads the idle point's commands from r, has do carry out
// each but OpStart, and sends their replies, until an OpStart it accepts.
// The host may send OpStart right behind OpFresh and OpUnpack
// (event.Client.Pipeline): after either failed, OpStart is refused, for a
// guest that is not fresh, or lacks its files, must not run (the host then
// ends the VM and boots one).
func idleCommands(r *event.LineReader, send func(event.Reply) error, do func(event.Command) (event.Reply, error)) error {
	var failed error
	for {
		var cmd event.Command
		if err := r.Read(&cmd); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("control channel closed by the host before the run started")
			}
			return fmt.Errorf("control channel: %w", err)
		}
		var rep event.Reply
		var err error
		switch {
		case cmd.V != event.Version:
			err = fmt.Errorf("command of version %d, agent speaks %d", cmd.V, event.Version)
		case cmd.Op == event.OpStart:
			if failed != nil {
				err = fmt.Errorf("not started: an earlier command failed: %w", failed)
			}
		default:
			rep, err = do(cmd)
		}
		rep.ID, rep.Op = cmd.ID, cmd.Op
		if err != nil {
			rep.Err = err.Error()
			if failed == nil && (cmd.Op == event.OpFresh || cmd.Op == event.OpUnpack) {
				failed = err
			}
		}
		if err := send(rep); err != nil {
			return err
		}
		if cmd.Op == event.OpStart && err == nil {
			return nil
		}
	}
}
