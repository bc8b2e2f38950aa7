package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/harness"
)

// kmodvm fuzz refuses what it cannot run before any kernel is fetched: a
// harness that does not compile (exit 1, with clang's diagnostics), flags
// that do not make a job (exit 2).
func TestFuzzRefusesBeforeFetching(t *testing.T) {
	kmod := filepath.Join("..", "..", "kmod")
	syntax := filepath.Join("..", "..", "vmtest", "harness", "testdata", "syntax.c")
	for _, c := range []struct {
		name  string
		args  []string
		clang bool
		code  int
		want  string
	}{
		{"harness does not compile", []string{"--module", kmod, "--harness", syntax}, true, exitFailed, "syntax.c:7:"},
		{"harness without module", []string{"--harness", syntax}, false, exitUsage, "--module is required"},
		{"two architectures", []string{"--arch", "all"}, false, exitUsage, "one architecture at a time"},
		{"negative jobs", []string{"--jobs", "-1"}, false, exitUsage, "--jobs"},
		{"no duration", []string{"--duration", "0s"}, false, exitUsage, "--duration"},
		{"no input to replay", []string{"--replay", filepath.Join(kmod, "no-such-input")}, false, exitUsage, "--replay"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := exec.LookPath(harness.DefaultClang); c.clang && err != nil {
				t.Skipf("%s not installed (make deps installs it)", harness.DefaultClang)
			}
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append([]string{"fuzz", "--offline", "--out", t.TempDir()}, c.args...))
			err := root.ExecuteContext(context.Background())
			if got := exitCode(err); got != c.code || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("exit %d (%v), want %d with %q", got, err, c.code, c.want)
			}
		})
	}
}

// TestFuzzJobs: --jobs is cut to the host's CPUs, and 0 asks for them.
func TestFuzzJobs(t *testing.T) {
	for _, c := range []struct{ asked, cpus, want int }{
		{1, 2, 1}, {2, 2, 2}, {4, 2, 2}, {0, 8, 8}, {0, 0, 1}, {3, 8, 3},
	} {
		if got := fuzzJobs(c.asked, c.cpus); got != c.want {
			t.Errorf("fuzzJobs(%d, %d) = %d, want %d", c.asked, c.cpus, got, c.want)
		}
	}
}
