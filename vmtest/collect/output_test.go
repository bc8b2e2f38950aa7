package collect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// A fuzz job that printed more than maxTestOutput of libFuzzer's progress
// keeps what kmodvm reads back from its end: the glue's lines, the
// statistics, the corpus; other tests' floods stay bounded.
func TestLongFuzzOutputKeepsItsEnd(t *testing.T) {
	c := New(Options{})
	c.Handle(event.Event{Type: event.Hello, Mono: 1})
	c.Handle(event.Event{Type: event.BinaryStart, Binary: "fuzz", Mono: 2})
	out := func(name, text string) {
		c.Handle(event.Event{Type: event.Test, Binary: "fuzz", Mono: 3, Test: &event.TestEvent{Action: "output", Test: name, Output: text}})
	}
	out("fuzz", "INFO: Seed: 1\n")
	for i := 0; i < 5000; i++ {
		out("fuzz", fmt.Sprintf("#%d\tNEW    cov: 51 ft: %d corp: 224/3504b lim: 53 exec/s: 606 rss: 27Mb L: 37/53 MS: 4 InsertByte-Custom-\n", i, i))
	}
	tail := []string{"stat::number_of_executed_units: 172000\n", "kmodvm-kcov: inputs: 172000 module pcs: 32 edges: 69 cmps: 9\n",
		"kmodvm-fuzz: corpus YWJj\n", "kmodvm-fuzz: sent the corpus: 1 inputs\n"}
	for _, l := range tail {
		out("fuzz", l)
	}
	c.Handle(event.Event{Type: event.BinaryEnd, Binary: "fuzz", Mono: 4, Exit: &event.Exit{}})
	c.finish(nil, report.Pass)
	var job *report.Test
	for _, tt := range c.kernel.Tests {
		if tt.Name == "fuzz" {
			job = tt
		}
	}
	if job == nil {
		t.Fatalf("no fuzz test in %+v", c.kernel.Tests)
	}
	if len(job.Output) < maxTestOutput || len(job.Output) > maxTestOutput+4096 {
		t.Errorf("output of %d bytes, want the first %d and the lines kept", len(job.Output), maxTestOutput)
	}
	for _, l := range tail {
		if !strings.Contains(job.Output, l) {
			t.Errorf("output lacks %q", l)
		}
	}
	if keepOutput(maxKeptOutput-10, "kmodvm-fuzz: corpus "+strings.Repeat("A", 20)+"\n") {
		t.Error("a line past maxKeptOutput kept")
	}
}
