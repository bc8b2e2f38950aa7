package agent

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kmodvm/kmodvm/guest/event"
)

// openControl opens the control port and says the agent is ready on it;
// send writes one reply.
func (a *Agent) openControl() (port *os.File, send func(event.Reply) error, err error) {
	port, err = openPort(a.controlDev, a.portWait)
	if err != nil {
		return nil, nil, fmt.Errorf("control channel (%s): %w", event.ParamControl, err)
	}
	send = func(rep event.Reply) error {
		rep.V = event.Version
		if err := event.WriteLine(port, rep); err != nil {
			return fmt.Errorf("control channel: %w", err)
		}
		return nil
	}
	if err := send(event.Reply{Op: event.OpReady, Kernel: kernelRelease()}); err != nil {
		port.Close()
		return nil, nil, err
	}
	return port, send, nil
}

// serve answers Commands on the control port until the host asks for a
// power-off or the port fails. The modules are loaded; the tests run only
// when a command says so, which keeps a booted guest at the host's disposal.
func (a *Agent) serve(cfg event.RunConfig, leaks bool) error {
	port, send, err := a.openControl()
	if err != nil {
		return err
	}
	defer drain(port)
	r := event.NewLineReader(port)
	for {
		var cmd event.Command
		if err := r.Read(&cmd); err != nil {
			if errors.Is(err, io.EOF) {
				// The host closed the channel: nobody is left to
				// ask for anything, so the run is over.
				a.logf("control channel closed by the host")
				return nil
			}
			return fmt.Errorf("control channel: %w", err)
		}
		rep := event.Reply{ID: cmd.ID, Op: cmd.Op}
		if cmd.V != event.Version {
			rep.Err = fmt.Sprintf("command of version %d, agent speaks %d", cmd.V, event.Version)
		} else {
			a.do(cfg, leaks, cmd, &rep)
		}
		if err := send(rep); err != nil {
			return err
		}
		if cmd.Op == event.OpPowerOff && rep.Err == "" {
			return nil
		}
	}
}

// do carries out one command, filling rep; leaks says whether kmemleak
// was cleared before the modules were loaded.
func (a *Agent) do(cfg event.RunConfig, leaks bool, cmd event.Command, rep *event.Reply) {
	var err error
	switch cmd.Op {
	case event.OpRun:
		var tests []event.TestBinary
		tests, err = selectTests(cfg.Tests, cmd.Tests, cmd.Args)
		if err == nil {
			rep.Results = a.runTests(tests)
		}
	case event.OpShell:
		var exit *event.Exit
		if exit, err = a.shell(cmd); err == nil {
			rep.Results = []event.BinaryResult{{Binary: cmd.Shell, Exit: exit}}
		}
	case event.OpReadFile:
		rep.Data, rep.Truncated, err = readLimited(cmd.Path, cmd.Max)
	case event.OpBlockedTasks:
		rep.Text, err = a.sysrq('w')
	case event.OpCPUs:
		rep.Text, err = a.sysrq('l')
	case event.OpPowerOff:
		a.endRun(cfg, leaks)
	default:
		err = fmt.Errorf("unknown command %q", cmd.Op)
	}
	if err != nil {
		rep.Err = err.Error()
	}
}

// selectTests returns the configured binaries named in names (all when
// empty), in the order asked, each with args after its own.
func selectTests(all []event.TestBinary, names, args []string) ([]event.TestBinary, error) {
	pick := all
	if len(names) > 0 {
		pick = nil
		for _, n := range names {
			i := indexTest(all, n)
			if i < 0 {
				return nil, fmt.Errorf("no test binary %q in the image", n)
			}
			pick = append(pick, all[i])
		}
	}
	out := make([]event.TestBinary, len(pick))
	for i, tb := range pick {
		if len(args) > 0 {
			// A copy: the configuration's own stays as it is.
			tb.Args = append(append([]string{}, tb.Args...), args...)
		}
		out[i] = tb
	}
	return out, nil
}

func indexTest(all []event.TestBinary, name string) int {
	for i, tb := range all {
		if tb.Name == name {
			return i
		}
	}
	return -1
}

// readLimited reads up to max bytes of path (event.MaxFile when max is 0
// or larger) with plain reads, as /proc, sysfs and debugfs files need.
func readLimited(path string, max int) ([]byte, bool, error) {
	if max <= 0 || max > event.MaxFile {
		max = event.MaxFile
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, false, err
	}
	if len(b) > max {
		return b[:max], true, nil
	}
	return b, false, nil
}
