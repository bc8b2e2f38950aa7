package runcfg

import "testing"

// TestFuzzStep: a fuzz job's line survives the step's detail; other
// details are not one.
func TestFuzzStep(t *testing.T) {
	const line = "#4096\tpulse  cov: 21 ft: 98 corp: 17/311b exec/s: 204"
	if job, got, ok := ParseFuzzStep(FuzzStep(2, line)); !ok || job != 2 || got != line {
		t.Errorf("ParseFuzzStep(FuzzStep(2, %q)) = %d, %q, %v", line, job, got, ok)
	}
	for _, d := range []string{"12 run", "pass TestX", "fuzz job x: y", "fuzz job 0: y", "fuzz job 3"} {
		if _, _, ok := ParseFuzzStep(d); ok {
			t.Errorf("ParseFuzzStep(%q) is a fuzz step", d)
		}
	}
}
