package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/vbauerster/mpb/v8"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// at is a step s seconds into the run.
func at(s float64, kernel string, p vmtest.Phase, detail string) vmtest.Step {
	return vmtest.Step{Kernel: kernel, Phase: p, Detail: detail, At: t0.Add(time.Duration(s * float64(time.Second)))}
}

// runSteps is a two-kernel run as vmtest reports it: steps name a kernel by
// its selector until it is fetched, a download's progress and every later
// step by its name, and the two kernels interleave.
var runSteps = []vmtest.Step{
	at(0, "6.1", vmtest.PhaseFetch, ""),
	at(0, "6.12", vmtest.PhaseFetch, ""),
	at(0.5, "6.12.117+deb13-amd64", vmtest.PhaseFetch, "0% of 85 MB"),
	at(1.5, "6.12.117+deb13-amd64", vmtest.PhaseFetch, "42% of 85 MB"),
	at(2.0, "6.1.0-57-amd64", vmtest.PhaseBuild, ""),
	at(2.5, "6.1.0-57-amd64", vmtest.PhaseImage, ""),
	at(3.0, "6.1.0-57-amd64", vmtest.PhaseBoot, ""),
	at(3.5, "6.12.117+deb13-amd64", vmtest.PhaseBuild, ""),
	at(5.0, "6.1.0-57-amd64", vmtest.PhaseTests, ""),
	at(5.1, "6.1.0-57-amd64", vmtest.PhaseTests, "1 run"),
	at(5.2, "6.1.0-57-amd64", vmtest.PhaseTests, "fail TestMmap"),
	at(5.3, "6.1.0-57-amd64", vmtest.PhaseTests, "2 run"),
	at(9.0, "6.1.0-57-amd64", vmtest.PhaseDone, "fail"),
	at(12.0, "6.12.117+deb13-amd64", vmtest.PhaseDone, "error"),
}

func TestPlainPrintsOneLinePerPhaseAndEveryStepWhenVerbose(t *testing.T) {
	for _, tc := range []struct {
		name           string
		quiet, verbose bool
		want           string
	}{
		{"default", false, false, `[   0.0s] 6.1                      fetch
[   0.0s] 6.12                     fetch
[   0.5s] 6.12.117+deb13-amd64     fetch 0% of 85 MB
[   2.0s] 6.1.0-57-amd64           build
[   2.5s] 6.1.0-57-amd64           image
[   3.0s] 6.1.0-57-amd64           boot
[   3.5s] 6.12.117+deb13-amd64     build
[   5.0s] 6.1.0-57-amd64           tests
[   9.0s] 6.1.0-57-amd64           done fail
[  12.0s] 6.12.117+deb13-amd64     done error
`},
		{"verbose", false, true, `[   0.0s] 6.1                      fetch
[   0.0s] 6.12                     fetch
[   0.5s] 6.12.117+deb13-amd64     fetch 0% of 85 MB
[   1.5s] 6.12.117+deb13-amd64     fetch 42% of 85 MB
[   2.0s] 6.1.0-57-amd64           build
[   2.5s] 6.1.0-57-amd64           image
[   3.0s] 6.1.0-57-amd64           boot
[   3.5s] 6.12.117+deb13-amd64     build
[   5.0s] 6.1.0-57-amd64           tests
[   5.1s] 6.1.0-57-amd64           tests 1 run
[   5.2s] 6.1.0-57-amd64           tests fail TestMmap
[   5.3s] 6.1.0-57-amd64           tests 2 run
[   9.0s] 6.1.0-57-amd64           done fail
[  12.0s] 6.12.117+deb13-amd64     done error
`},
		{"quiet", true, false, ""},
		{"quiet wins over verbose", true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newPlain(&buf, tc.quiet, tc.verbose)
			p.start = t0
			for _, s := range runSteps {
				p.step(s)
			}
			p.finish(&report.Report{})
			if got := buf.String(); got != tc.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tc.want)
			}
			if strings.ContainsAny(buf.String(), "\x1b\r") {
				t.Errorf("plain output has control characters: %q", buf.String())
			}
			if (p.log() == nil) != tc.quiet {
				t.Errorf("log() = %v with quiet=%v", p.log(), tc.quiet)
			}
		})
	}
}

func TestWantBarsOnlyOnATerminalOutsideCI(t *testing.T) {
	for _, tc := range []struct {
		tty  bool
		env  map[string]string
		want bool
	}{
		{true, nil, true},
		{false, nil, false},
		{true, map[string]string{"CI": "true"}, false},
		{true, map[string]string{"GITHUB_ACTIONS": "true"}, false},
		{true, map[string]string{"TERM": "dumb"}, false},
		{true, map[string]string{"CI": "false", "TERM": "xterm-256color"}, true},
	} {
		got := wantBars(tc.tty, func(k string) string { return tc.env[k] })
		if got != tc.want {
			t.Errorf("wantBars(tty=%v, %v) = %v, want %v", tc.tty, tc.env, got, tc.want)
		}
	}
}

func TestParseTestStepReadsCountsAndResults(t *testing.T) {
	for _, tc := range []struct {
		detail string
		want   testStep
		ok     bool
	}{
		{"12 run", testStep{started: 12}, true},
		{"pass TestMmap/unmap", testStep{result: report.Pass, name: "TestMmap/unmap"}, true},
		{"fail TestUnloadRace", testStep{result: report.Fail, name: "TestUnloadRace"}, true},
		{"skip TestHuge", testStep{result: report.Skip, name: "TestHuge"}, true},
		{"pass", testStep{}, false},
		{"crash TestX", testStep{}, false},
		{"", testStep{}, false},
	} {
		got, ok := parseTestStep(tc.detail)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseTestStep(%q) = %+v, %v; want %+v, %v", tc.detail, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFitsMatchesKernelNamesToTheirSelectors(t *testing.T) {
	for _, tc := range []struct {
		sel, name string
		want      int
	}{
		{"6.1", "6.1.0-57-amd64", 2},
		{"6.1", "6.12.117+deb13-amd64", 0},
		{"6.12", "6.12.117+deb13-amd64", 2},
		{"6.12", "6.1.0-57-amd64", 0},
		{"7.3-rt", "7.3.4+deb13-rt-amd64", 2},
		{"7.3-rt", "7.3.4+deb13-amd64", 0},
		{"7.3", "7.3.4+deb13-rt-amd64", 0},
		{"6.12.113+deb12", "6.12.113+deb12-amd64", 2},
		{"6.12.113+deb12", "6.12.117+deb13-amd64", 0},
		{"latest", "7.3.4+deb13-amd64", 1},
		{"/boot/vmlinuz-6.1.0-57-amd64", "6.1.0-57-amd64", 1},
	} {
		if got := fits(tc.sel, tc.name); got != tc.want {
			t.Errorf("fits(%q, %q) = %d, want %d", tc.sel, tc.name, got, tc.want)
		}
	}
}

func TestBarsRenderEveryKernelToItsVerdict(t *testing.T) {
	var buf bytes.Buffer
	b := newBars(&buf, []string{"6.1", "6.12", "7.3"}, true, map[string]int{"6.1.0-57-amd64": 116},
		mpb.WithWidth(120), mpb.WithAutoRefresh(), mpb.WithRefreshRate(time.Millisecond))
	for _, s := range runSteps {
		b.step(s)
	}
	b.mu.Lock()
	var lines []string
	for _, r := range b.rows {
		lines = append(lines, r.sel+" as "+r.name+": "+r.describe())
	}
	b.mu.Unlock()
	want := []string{
		"6.1 as 6.1.0-57-amd64: done fail",
		"6.12 as 6.12.117+deb13-amd64: done error",
		"7.3 as 7.3: waiting",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines before finish = %q, want %q", lines, want)
	}
	for i, want := range []int64{5, 1, 0} { // done after its tests, stopped at build, never started
		if got := b.rows[i].bar.Current(); got != want || b.rows[i].bar.Completed() {
			t.Errorf("before finish, bar of %s at %d (completed %v), want %d and open", b.rows[i].sel, got, b.rows[i].bar.Completed(), want)
		}
	}
	b.log().Write([]byte("a log line\n"))
	rep := &report.Report{Kernels: []*report.Kernel{
		kernelResult("6.1", "6.1.0-57-amd64", report.Fail),
		kernelResult("6.12", "6.12.117+deb13-amd64", report.Error),
		{Name: "7.3", Selector: "7.3", Status: report.NotRun},
	}}
	b.finish(rep)
	// Only a kernel that ran its tests gets a full bar; the others stop
	// where they were.
	for _, c := range []struct {
		row                int
		completed, aborted bool
	}{{0, true, false}, {1, false, true}, {2, false, true}} {
		bar := b.rows[c.row].bar
		if bar.Completed() != c.completed || bar.Aborted() != c.aborted {
			t.Errorf("bar of %s: completed %v, aborted %v; want %v, %v", b.rows[c.row].sel, bar.Completed(), bar.Aborted(), c.completed, c.aborted)
		}
	}
	out := buf.String()
	t.Logf("rendered:\n%s", out)
	// The width of an emoji is the terminal's to choose: compare words.
	words := strings.Join(strings.Fields(out), " ")
	for _, s := range []string{
		"❌ 6.1.0-57-amd64 [============] 9.0s 0 passed, 1 failed, 0 skipped",
		"⚠️ 6.12.117+deb13-amd64 [=> ] 12.0s error",
		"· 7.3 [ ] - not-run",
		"❌ 6.1.0-57-amd64 TestMmap: fail", // -v: each test's result as it ends
		"a log line",
	} {
		if !strings.Contains(words, s) {
			t.Errorf("rendered output lacks %q", s)
		}
	}
}

func TestBarsShowTestsAgainstThePreviousRun(t *testing.T) {
	for _, tc := range []struct {
		expect  int
		details []string
		want    string
	}{
		{116, []string{"1 run", "2 run"}, "tests 2/116"},
		{0, []string{"1 run", "2 run"}, "tests 2 run"},
		{1, []string{"1 run", "2 run"}, "tests 2 run"}, // more than last time: no guess
		{116, []string{"1 run", "fail TestA", "2 run"}, "tests 2/116, 1 failed"},
		{116, nil, "tests"},
	} {
		b := newBars(&bytes.Buffer{}, []string{"6.1.0-57-amd64"}, false, map[string]int{"6.1.0-57-amd64": tc.expect})
		b.step(at(0, "6.1.0-57-amd64", vmtest.PhaseTests, ""))
		for _, d := range tc.details {
			b.step(at(1, "6.1.0-57-amd64", vmtest.PhaseTests, d))
		}
		b.mu.Lock()
		got := b.rows[0].describe()
		b.mu.Unlock()
		if got != tc.want {
			t.Errorf("expect %d, details %q: %q, want %q", tc.expect, tc.details, got, tc.want)
		}
		b.finish(&report.Report{})
	}
}

func TestBarsGiveAnUnknownKernelALineOfItsOwn(t *testing.T) {
	var buf bytes.Buffer
	b := newBars(&buf, []string{"6.1"}, false, nil, mpb.WithWidth(100))
	b.step(at(0, "6.1", vmtest.PhaseFetch, ""))
	b.step(at(1, "7.3.4+deb13-amd64", vmtest.PhaseBuild, "")) // fits no fetching selector
	b.step(at(2, "6.1.0-57-amd64", vmtest.PhaseBuild, ""))
	b.mu.Lock()
	var names []string
	for _, r := range b.rows {
		names = append(names, r.sel+"="+r.name)
	}
	b.mu.Unlock()
	b.finish(&report.Report{})
	want := []string{"6.1=6.1.0-57-amd64", "7.3.4+deb13-amd64=7.3.4+deb13-amd64"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("rows = %q, want %q", names, want)
	}
}

func TestLineWriterPassesWholeLinesOnly(t *testing.T) {
	var buf bytes.Buffer
	w := &lineWriter{w: &buf}
	var got []string
	for _, piece := range []string{"Get:1 http://deb", ".debian.org/ linux-image [70.6 MB]\nGet:2", " x\n", "tail"} {
		w.Write([]byte(piece))
		got = append(got, buf.String())
	}
	want := []string{"", "Get:1 http://deb.debian.org/ linux-image [70.6 MB]\n", "Get:1 http://deb.debian.org/ linux-image [70.6 MB]\nGet:2 x\n", "Get:1 http://deb.debian.org/ linux-image [70.6 MB]\nGet:2 x\n"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after each write: %q, want %q", got, want)
	}
}

func TestExpectedTestsComeOnlyFromTheSameCommand(t *testing.T) {
	prev := &report.Report{Host: report.Host{Command: "kmodvm run -k 6.1,6.12"}, Kernels: []*report.Kernel{
		kernelResult("6.1", "6.1.0-57-amd64", report.Pass),
		kernelResult("6.12", "6.12.117+deb13-amd64", report.Error),
	}}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := report.WriteFile(path, prev.WriteJSON); err != nil {
		t.Fatal(err)
	}
	if got, want := expectedTests(path, "kmodvm run -k 6.1,6.12"), map[string]int{"6.1.0-57-amd64": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("same command: %v, want %v", got, want)
	}
	if got := expectedTests(path, "kmodvm run -k 6.1,6.12 --test-arg=-test.run=X"); got != nil {
		t.Errorf("other command: %v, want none", got)
	}
	if got := expectedTests(filepath.Join(t.TempDir(), "none.json"), "kmodvm run"); got != nil {
		t.Errorf("no previous report: %v, want none", got)
	}
}

func TestElapsedIsShortAtAnyLength(t *testing.T) {
	for d, want := range map[time.Duration]string{
		8200 * time.Millisecond: "8.2s",
		59 * time.Second:        "59.0s",
		185 * time.Second:       "3m05s",
		3725 * time.Second:      "62m05s",
	} {
		if got := elapsed(d); got != want {
			t.Errorf("elapsed(%v) = %q, want %q", d, got, want)
		}
	}
}
