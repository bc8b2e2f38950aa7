package main

import (
	"strings"
	"testing"
	"time"
)

// --coverage and --inject-faults on a stock Debian kernel (no
// CONFIG_GCOV_KERNEL, no CONFIG_FAULT_INJECTION) are usage errors found
// before anything is built or booted, and the message names the kernel
// that lacks the option and the selector of one that has it.
func TestCLIDebugOptionOnAStockKernelIsAUsageError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ flag, option string }{
		{"--coverage", "CONFIG_GCOV_KERNEL"},
		{"--inject-faults", "CONFIG_FAULT_INJECTION"},
	} {
		t.Run(c.flag, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			start := time.Now()
			r := runKmodvm(t, nil, out, append(cacheFlag(), "run", "--kernels", "6.1", c.flag)...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			for _, want := range []string{c.option, "6.1.0-", "--kernels 6.1-debug"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if r.report != nil {
				t.Errorf("a usage error left a report")
			}
			if took := time.Since(start); took > 2*time.Minute {
				t.Errorf("took %s: was something built or booted?", took.Round(time.Second))
			}
		})
	}
}
