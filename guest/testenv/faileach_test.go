package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

func TestNextPoint(t *testing.T) {
	for _, c := range []struct {
		name     string
		n, limit int
		o        pointOutcome
		more     bool
		problem  string // a word of the error, "" for none
	}{
		{name: "injected goes on", n: 1, limit: 200, o: pointInjected, more: true},
		{name: "injected below the bound", n: 199, limit: 200, o: pointInjected, more: true},
		{name: "injected at the bound", n: 200, limit: 200, o: pointInjected, problem: "retry"},
		{name: "clean ends", n: 8, limit: 200, o: pointClean},
		{name: "clean at the bound ends", n: 200, limit: 200, o: pointClean},
		{name: "stopped ends quietly", n: 3, limit: 200, o: pointStopped},
		{name: "no Inject", n: 1, limit: 200, o: pointNoInject, problem: "without calling Fault.Inject"},
	} {
		more, err := nextPoint(c.n, c.limit, c.o)
		if more != c.more || (err == nil) != (c.problem == "") || (err != nil && !strings.Contains(err.Error(), c.problem)) {
			t.Errorf("%s: nextPoint(%d, %d, %d) = %v, %v; want %v, %q", c.name, c.n, c.limit, c.o, more, err, c.more, c.problem)
		}
	}
}

func TestInjected(t *testing.T) {
	if !(Injection{N: 3, Left: 0}).Injected() || (Injection{N: 3, Left: 1}).Injected() {
		t.Error("Injected is not Left == 0")
	}
	var f Fault
	if f.Injected() || f.outcome() != pointNoInject {
		t.Errorf("a point that never ran Inject: Injected %v, outcome %d", f.Injected(), f.outcome())
	}
}

// The wait for the output's reader ends once the pipe is drained, and
// after its bound if nobody reads.
func TestAwaitRead(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.Write(p[1], []byte("=== RUN   TestX/fail-nth=1\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	awaitRead(p[1], 100*time.Millisecond)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("returned after %v with the pipe unread, want the bound", took)
	}
	reading := make(chan time.Time, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		reading <- time.Now()
		unix.Read(p[0], make([]byte, 64))
	}()
	awaitRead(p[1], 10*time.Second)
	done := time.Now()
	if at := <-reading; done.Before(at) || done.After(at.Add(time.Second)) {
		t.Errorf("returned at %v, the reader began to read at %v", done, at)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start = time.Now()
	awaitRead(int(f.Fd()), 10*time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("waited %v on a file", took)
	}
}

// Outside a guest a sweep skips before touching the kernel's knobs.
func TestFailEachSkipsOutsideVM(t *testing.T) {
	t.Setenv(event.EnvGuest, "")
	ran := false
	var sub *testing.T
	t.Run("sweep", func(t *testing.T) {
		sub = t
		FailEach(t, func(t *testing.T, f *Fault) { ran = true })
	})
	if !sub.Skipped() || ran {
		t.Errorf("outside a VM: skipped %v, op ran %v", sub.Skipped(), ran)
	}
}
