package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// testdata/runs holds real runs of today (kmodvm run -j1 -k 6.1, the
// bundled driver's suite for "pass", faultmod's for the others; see
// testdata/runs/README.md): the big reports below are made of them.

// readRun reads testdata/runs/<name>/report.json.
func readRun(t testing.TB, name string) *Report {
	t.Helper()
	r, err := ReadFile(filepath.Join("testdata", "runs", name, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cloneKernel is a deep copy of k.
func cloneKernel(t testing.TB, k *Kernel) *Kernel {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var c Kernel
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// scaled grows base's first kernel into kernels×archs kernels of results
// test results each: the kernel's tests again and again, each round a
// package of its own (as a sweep of error paths, a result per failure
// point, would be), their output and timing as recorded.
func scaled(t testing.TB, base *Report, kernels int, archs []string, results int) *Report {
	t.Helper()
	r := &Report{Schema: SchemaVersion, Started: base.Started, Finished: base.Finished, Host: base.Host}
	src := base.Kernels[0]
	for _, a := range archs {
		for i := range kernels {
			k := cloneKernel(t, src)
			k.Name = strings.Replace(src.Name, src.Arch, a, 1)
			if i > 0 {
				k.Name = strings.Replace(k.Name, "-57-", fmt.Sprintf("-%d-", 57+i), 1)
			}
			k.Arch, k.ID = a, fmt.Sprintf("%s%02d%s", src.ID, i, a)
			k.Tests = scaledTests(t, src.Tests, results)
			r.Kernels = append(r.Kernels, k)
		}
	}
	return r
}

func scaledTests(t testing.TB, tests []*Test, results int) []*Test {
	var out []*Test
	for round := 0; len(out) < results; round++ {
		for _, test := range tests {
			if len(out) == results {
				break
			}
			c := *test
			c.Findings = nil
			if round > 0 {
				c.Package = fmt.Sprintf("%s-sweep%d", test.Package, round)
			}
			out = append(out, &c)
		}
	}
	return out
}

// addFailure puts failed's test name (and the findings blamed on it) into
// k in place of its last test, and fails k as the collector would.
func addFailure(t testing.TB, k, failed *Kernel, name string) {
	t.Helper()
	var src *Test
	for _, test := range failed.Tests {
		if test.Name == name {
			src = test
		}
	}
	if src == nil {
		t.Fatalf("%s has no test %s", failed.Name, name)
	}
	c := *src
	c.Findings = nil
	for _, i := range src.Findings {
		c.Findings = append(c.Findings, len(k.Findings))
		k.Findings = append(k.Findings, failed.Findings[i])
	}
	k.Tests[len(k.Tests)-1] = &c
	k.Status = Fail
	k.Error = "1 test(s) failed"
}

// bigReport is 16 kernels on every architecture with 1,000 results each,
// one WARNING during a test on two of them.
func bigReport(t testing.TB) *Report {
	t.Helper()
	r := scaled(t, readRun(t, "pass"), 16, arch.Names(), 1000)
	warn := readRun(t, "warn").Kernels[0]
	addFailure(t, r.Kernels[3], warn, "TestWarnDuringPassingTest")
	addFailure(t, r.Kernels[16+3], warn, "TestWarnDuringPassingTest")
	return r
}

// oneOf128 is the bundled driver's run with one of its 128 results a
// real failure: a test during which faultmod's WARN fired.
func oneOf128(t testing.TB) *Report {
	t.Helper()
	r := scaled(t, readRun(t, "pass"), 1, []string{readRun(t, "pass").Kernels[0].Arch}, 128)
	addFailure(t, r.Kernels[0], readRun(t, "warn").Kernels[0], "TestWarnDuringPassingTest")
	return r
}

func renderHTML(t testing.TB, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf, HTMLOptions{EmbedLogs: true}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
