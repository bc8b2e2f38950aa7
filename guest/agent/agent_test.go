package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

var fixtureDir string

var (
	// Addresses, goroutine numbers and durations differ between two runs
	// (a busy machine makes a 10 ms sleep take 20).
	volatile      = regexp.MustCompile(`0x[0-9a-f]+|goroutine [0-9]+|\([0-9]+\.[0-9]+s\)`)
	goTestSummary = regexp.MustCompile(`^(ok  |FAIL)\texample.com/fixture\t`)
)

// fixture builds testdata/fixture once per run into a test binary.
var fixture = sync.OnceValues(func() (string, error) {
	out := filepath.Join(fixtureDir, "fixture.test")
	cmd := exec.Command("go", "test", "-c", "-o", out, ".")
	cmd.Dir = "testdata/fixture"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(string(b))
	}
	return out, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agent-test-")
	if err != nil {
		panic(err)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fixtureBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the fixture")
	}
	bin, err := fixture()
	if err != nil {
		t.Fatalf("build fixture: %v", err)
	}
	return bin
}

// runAgentBinary runs tb through a host-side Agent and returns its events.
func runAgentBinary(t *testing.T, tb event.TestBinary) (*event.Exit, []event.Event) {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	a := &Agent{configPath: "/nonexistent", enc: event.NewEncoder(lockedWriter{&mu, &buf})}
	exit, err := a.runBinary(tb)
	if err != nil {
		t.Fatalf("runBinary: %v", err)
	}
	d := event.NewDecoder(&buf)
	var evs []event.Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		evs = append(evs, ev)
	}
	return exit, evs
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// perTest reduces events to what converters must agree on whatever the
// scheduling of parallel tests: for each test, its actions in order and all
// its output (which converters may split differently). Goroutine numbers and
// addresses in panic traces vary between runs and are masked. The final
// The summary line go test adds after the run is not the binary's output.
func perTest(evs []event.TestEvent) map[string]string {
	m := map[string]string{}
	for _, e := range evs {
		if e.Action == "output" && !goTestSummary.MatchString(e.Output) {
			m[e.Test+" output"] += volatile.ReplaceAllString(e.Output, "N")
		} else if e.Action == "output" {
			continue
		} else {
			m[e.Test+" actions"] += e.Action + " "
		}
	}
	return m
}

// TestConverterMatchesGoTest2JSON runs the fixture with go test -json and
// through the agent, and compares the events.
func TestConverterMatchesGoTest2JSON(t *testing.T) {
	bin := fixtureBinary(t)
	for _, mode := range []string{"", "panic", "exit3"} {
		t.Run("FIXTURE="+mode, func(t *testing.T) {
			cmd := exec.Command("go", "test", "-json", "-count=1", ".")
			cmd.Dir = "testdata/fixture"
			cmd.Env = append(os.Environ(), "FIXTURE="+mode, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
			outb, _ := cmd.Output()
			var want []event.TestEvent
			sc := bufio.NewScanner(bytes.NewReader(outb))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var e event.TestEvent
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("go test -json wrote %q: %v", sc.Text(), err)
				}
				e.Package = "fixture"
				want = append(want, e)
			}
			if len(want) < 3 {
				t.Fatalf("go test -json gave %d events: %s", len(want), outb)
			}

			_, evs := runAgentBinary(t, event.TestBinary{Name: "fixture", Path: bin, Env: []string{"FIXTURE=" + mode}, Timeout: event.Duration(time.Minute)})
			var got []event.TestEvent
			for _, ev := range evs {
				if ev.Type == event.Test {
					if ev.Binary != "fixture" || ev.Test.Package != "fixture" {
						t.Errorf("event names binary %q package %q", ev.Binary, ev.Test.Package)
					}
					got = append(got, *ev.Test)
				}
			}
			g, w := perTest(got), perTest(want)
			for k, wv := range w {
				if g[k] != wv {
					t.Errorf("%s:\n got %q\nwant %q", k, g[k], wv)
				}
			}
			for k, gv := range g {
				if _, ok := w[k]; !ok {
					t.Errorf("%s: unexpected %q", k, gv)
				}
			}
		})
	}
}

func TestRunBinaryReportsHowItEnded(t *testing.T) {
	bin := fixtureBinary(t)
	tests := []struct {
		fixture  string
		timeout  time.Duration
		want     event.Exit
		lastTest string // Action of the final Test event
	}{
		{"", time.Minute, event.Exit{Code: 1}, "fail"},
		{"panic", time.Minute, event.Exit{Code: 2}, "fail"},
		{"exit3", time.Minute, event.Exit{Code: 3}, "fail"},
		{"term", time.Minute, event.Exit{Code: -1, Signal: "SIGTERM"}, "fail"},
		{"hang", 300 * time.Millisecond, event.Exit{Code: -1, Signal: "SIGKILL", TimedOut: true}, "fail"},
	}
	for _, tt := range tests {
		t.Run("FIXTURE="+tt.fixture, func(t *testing.T) {
			exit, evs := runAgentBinary(t, event.TestBinary{
				Name: "fixture", Path: bin, Env: []string{"FIXTURE=" + tt.fixture},
				Args: []string{"-test.run=TestPass|TestPanic"}, Timeout: event.Duration(tt.timeout),
			})
			got := *exit
			got.Elapsed, got.BlockedTasks = 0, ""
			if tt.fixture == "" {
				tt.want.Code = 0
				tt.lastTest = "pass"
			}
			if got != tt.want {
				t.Errorf("exit = %+v, want %+v", got, tt.want)
			}
			if exit.Elapsed <= 0 || exit.Elapsed > 30 {
				t.Errorf("elapsed = %v", exit.Elapsed)
			}
			last := evs[len(evs)-1]
			if last.Type != event.Test || last.Test.Action != tt.lastTest || last.Test.Test != "" {
				t.Errorf("last event = %+v %+v, want package %s", last, last.Test, tt.lastTest)
			}
		})
	}
}

func TestRunBinaryEnvironment(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "env.test")
	body := "#!" + sh + "\necho \"$KMODVM_GUEST $KMODVM_CONFIG $EXTRA $PWD $*\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	// A plain binary (a fuzz harness) gets its arguments alone and is one
	// test of its name, holding its output; a Go test binary's output
	// outside its tests is its package's.
	for _, c := range []struct {
		plain      bool
		args, test string
		actions    string
	}{{false, "-test.v=test2json -x", "", "start output pass"}, {true, "-x", "env", "start run output pass pass"}} {
		_, evs := runAgentBinary(t, event.TestBinary{Name: "env", Path: script, Args: []string{"-x"}, Env: []string{"EXTRA=yes"}, Plain: c.plain})
		var out strings.Builder
		var actions []string
		for _, ev := range evs {
			if ev.Type != event.Test {
				continue
			}
			actions = append(actions, ev.Test.Action)
			if ev.Test.Action == "output" {
				out.WriteString(ev.Test.Output)
				if ev.Test.Test != c.test {
					t.Errorf("plain %v: output of test %q, want %q", c.plain, ev.Test.Test, c.test)
				}
			}
		}
		want := "1 /nonexistent yes " + dir + " " + c.args + "\n"
		if out.String() != want {
			t.Errorf("plain %v: output = %q, want %q", c.plain, out.String(), want)
		}
		if got := strings.Join(actions, " "); got != c.actions {
			t.Errorf("plain %v: actions %q, want %q", c.plain, got, c.actions)
		}
	}
}
