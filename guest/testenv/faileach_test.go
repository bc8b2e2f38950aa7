package testenv

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

func TestParseFailNth(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		bad  bool
	}{
		{in: "0\n", want: 0},
		{in: "17\n", want: 17},
		{in: strconv.FormatUint(1<<failNthBits-1, 10), want: 1<<failNthBits - 1},
		{in: "  3  ", want: 3},
		{in: "", bad: true},
		{in: "-1\n", bad: true},
		{in: strconv.FormatUint(1<<failNthBits, 10), bad: true},
		{in: "x\n", bad: true},
	} {
		got, err := parseFailNth([]byte(c.in))
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseFailNth(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.bad)
		}
	}
}

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

// applyKnobs sets the knobs the kernel has, names the others, and puts
// the old values back.
func TestApplyKnobsSetsAndRestores(t *testing.T) {
	root := t.TempDir()
	old := map[string]string{"failslab/ignore-gfp-wait": "Y\n", "failslab/verbose": "2\n", "fail_page_alloc/min-order": "1\n"}
	for path, v := range old {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restore, missing, err := applyKnobs(root, sweepKnobs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"failslab/ignore-gfp-wait": "N", "failslab/verbose": "0", "fail_page_alloc/min-order": "0"}
	for path, v := range want {
		if b, _ := os.ReadFile(filepath.Join(root, path)); string(b) != v {
			t.Errorf("%s = %q while set, want %q", path, b, v)
		}
	}
	wantMissing := []string{"fail_page_alloc/ignore-gfp-wait", "fail_page_alloc/ignore-gfp-highmem", "fail_page_alloc/verbose", "fail_usercopy/verbose"}
	if !slices.Equal(missing, wantMissing) {
		t.Errorf("missing %q, want %q", missing, wantMissing)
	}
	if _, err := os.Stat(filepath.Join(root, "fail_usercopy")); err == nil {
		t.Error("a knob the kernel lacks was created")
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	for path, v := range old {
		if b, _ := os.ReadFile(filepath.Join(root, path)); string(b) != strings.TrimSpace(v) {
			t.Errorf("%s = %q after restore, want %q", path, b, strings.TrimSpace(v))
		}
	}
}

func TestMissingNote(t *testing.T) {
	for _, c := range []struct {
		missing []string
		want    string
	}{
		{nil, ""},
		{[]string{"fail_usercopy/verbose"}, "fault injection on this kernel: user copies (CONFIG_FAULT_INJECTION_USERCOPY) do not fail (no fail_usercopy)"},
		{[]string{"fail_page_alloc/ignore-gfp-wait", "fail_page_alloc/ignore-gfp-highmem", "fail_page_alloc/min-order", "fail_page_alloc/verbose", "fail_usercopy/verbose"},
			"fault injection on this kernel: page allocations (CONFIG_FAIL_PAGE_ALLOC) do not fail (no fail_page_alloc); user copies (CONFIG_FAULT_INJECTION_USERCOPY) do not fail (no fail_usercopy)"},
		{[]string{"fail_page_alloc/min-order"}, "fault injection on this kernel: no fail_page_alloc/min-order"},
	} {
		if got := missingNote(sweepKnobs, c.missing); got != c.want {
			t.Errorf("missingNote(%q) = %q, want %q", c.missing, got, c.want)
		}
	}
}

// A knob that cannot be written leaves those set before it as they were.
func TestApplyKnobsUndoesOnFailure(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "failslab"), 0o755); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(root, "failslab", "ignore-gfp-wait")
	if err := os.WriteFile(first, []byte("Y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where a knob file should be: reading it fails.
	if err := os.Mkdir(filepath.Join(root, "failslab", "verbose"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := applyKnobs(root, sweepKnobs); err == nil {
		t.Fatal("applyKnobs succeeded with an unreadable knob")
	}
	if b, _ := os.ReadFile(first); string(b) != "Y" {
		t.Errorf("ignore-gfp-wait = %q after the failure, want it restored to Y", b)
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
