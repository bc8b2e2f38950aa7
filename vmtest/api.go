package vmtest

import (
	"fmt"

	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// Config describes a run; see runcfg.Config, which it is.
type Config = runcfg.Config

// Step is a progress notification.
type Step = runcfg.Step

// Phase is where a kernel is in its run.
type Phase = runcfg.Phase

// Phases, in order.
const (
	PhaseFetch = runcfg.PhaseFetch
	PhaseBuild = runcfg.PhaseBuild
	PhaseImage = runcfg.PhaseImage
	PhaseBoot  = runcfg.PhaseBoot
	PhaseTests = runcfg.PhaseTests
	PhaseDone  = runcfg.PhaseDone
)

// ErrConfig marks a configuration the user must fix.
type ErrConfig = runcfg.ErrConfig

// Terminal is where Config.Shell's shell talks.
type Terminal = runcfg.Terminal

// Debugger is how to attach gdb to a VM stopped before its tests.
type Debugger = runcfg.Debugger

// DebugModule is a loaded module under test, as gdb's add-symbol-file wants it.
type DebugModule = runcfg.DebugModule

// DefaultKernels returns the matrix run when Config.Kernels is empty: a
// new slice each time, so no caller can change another's default.
func DefaultKernels() []string { return runcfg.DefaultKernels() }

// Arches checks architecture names and returns them, or the default
// architecture's alone when there are none.
func Arches(names []string) ([]string, error) { return runcfg.Arches(names) }

// ParseShard parses "i/n" (1 <= i <= n).
func ParseShard(s string) (i, n int, err error) {
	if _, err := fmt.Sscanf(s, "%d/%d", &i, &n); err != nil || n < 1 || i < 1 || i > n || fmt.Sprintf("%d/%d", i, n) != s {
		return 0, 0, &ErrConfig{Msg: fmt.Sprintf("--shard %q: want i/n with 1 <= i <= n, e.g. 1/2", s)}
	}
	return i, n, nil
}

// Shard returns the kernels of shard i of n: every n-th selector starting
// with the i-th, so that the shards of a matrix partition it and merging
// their reports gives the unsharded report.
func Shard(kernels []string, i, n int) []string {
	var out []string
	for j, k := range kernels {
		if j%n == i-1 {
			out = append(out, k)
		}
	}
	return out
}
