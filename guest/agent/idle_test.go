package agent

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// idleGuest runs idleCommands on one end of a socket pair, with do, and
// returns the host's client and the loop's result.
func idleGuest(t *testing.T, do func(event.Command) (event.Reply, error)) (*event.Client, <-chan error) {
	t.Helper()
	// A socket pair buffers, as the virtio port does: net.Pipe would
	// not, and the pipelined commands would wait for their replies.
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	host, guest := os.NewFile(uintptr(fds[0]), "host"), os.NewFile(uintptr(fds[1]), "guest")
	t.Cleanup(func() { host.Close(); guest.Close() })
	done := make(chan error, 1)
	go func() {
		done <- idleCommands(event.NewLineReader(guest), func(rep event.Reply) error {
			rep.V = event.Version
			return event.WriteLine(guest, rep)
		}, do)
	}()
	return event.NewClient(host), done
}

// The host sends fresh, unpack and start at once: all run, in order, and
// the idle point ends.
func TestIdlePipelineRunsInOrderAndStarts(t *testing.T) {
	var ran []event.Op
	ctl, done := idleGuest(t, func(cmd event.Command) (event.Reply, error) {
		ran = append(ran, cmd.Op)
		return event.Reply{}, nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	reps, err := ctl.Pipeline(ctx, event.Command{Op: event.OpFresh}, event.Command{Op: event.OpUnpack}, event.Command{Op: event.OpStart})
	if err != nil || len(reps) != 3 {
		t.Fatalf("Pipeline = %v, %v", reps, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("idle point: %v", err)
	}
	if len(ran) != 2 || ran[0] != event.OpFresh || ran[1] != event.OpUnpack {
		t.Errorf("ran %v, want fresh then unpack", ran)
	}
}

// A guest whose reseeding failed is not fresh: the start sent behind it is
// refused, and the agent stays idle for the host to end the VM.
func TestIdleRefusesToStartAfterAFailedCommand(t *testing.T) {
	ctl, done := idleGuest(t, func(cmd event.Command) (event.Reply, error) {
		if cmd.Op == event.OpFresh {
			return event.Reply{}, errors.New("RNDADDENTROPY: operation not permitted")
		}
		return event.Reply{}, nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	reps, err := ctl.Pipeline(ctx, event.Command{Op: event.OpFresh}, event.Command{Op: event.OpUnpack}, event.Command{Op: event.OpStart})
	if err == nil || !strings.Contains(err.Error(), "RNDADDENTROPY") {
		t.Errorf("Pipeline error = %v, want the failed fresh", err)
	}
	if len(reps) != 3 || !strings.Contains(reps[2].Err, "not started") {
		t.Errorf("start's reply = %+v, want a refusal", reps)
	}
	select {
	case err := <-done:
		t.Fatalf("the idle point ended (%v) after a refused start", err)
	case <-time.After(100 * time.Millisecond):
	}
	// A failed file read is an answer, not a reason to stay idle.
	ctl2, done2 := idleGuest(t, func(cmd event.Command) (event.Reply, error) {
		if cmd.Op == event.OpReadFile {
			return event.Reply{}, errors.New("no such file")
		}
		return event.Reply{}, nil
	})
	if _, err := ctl2.Pipeline(ctx, event.Command{Op: event.OpReadFile, Path: "/x"}, event.Command{Op: event.OpStart}); err == nil {
		t.Error("the failed read was not reported")
	}
	if err := <-done2; err != nil {
		t.Errorf("idle point after a failed read: %v", err)
	}
}
