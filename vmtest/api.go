package vmtest

import (
	"context"
	"fmt"
	"io"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/run"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// RunMatrix runs cfg on every kernel, in parallel up to cfg.Jobs, and
// returns the report. One kernel's failure (a missing kernel, a build
// error, a crashed VM) never stops the others. The error is non-nil only
// for an unusable configuration (an *ErrConfig); when ctx is canceled the
// report is marked partial and holds what finished.
func RunMatrix(ctx context.Context, cfg Config) (*report.Report, error) {
	return run.Matrix(ctx, cfg, run.Hooks{})
}

// NewFetcher returns a kernel fetcher over the cache in cacheDir with every
// provider kmodvm has: Debian's archive, local trees and kernels built from
// source (the -debug and -kcsan selectors). buildProgress, if set, hears
// how far a kernel build is.
func NewFetcher(cacheDir string, offline bool, log io.Writer, buildProgress func(name string, done, total int)) *kernel.Fetcher {
	return run.NewFetcher(cacheDir, offline, log, buildProgress)
}

// SnapshotDir is where a cache keeps its VM snapshots.
func SnapshotDir(cacheDir string) string { return run.SnapshotDir(cacheDir) }

// Config describes a run. The zero value runs nothing useful: set Modules
// and Tests at least. It is runcfg.Config, where each field is documented:
// the runner below vmtest takes it too.
type Config = runcfg.Config

// Fuzz is a fuzz job (Config.Fuzz): a harness built by vmtest/harness.
type Fuzz = runcfg.Fuzz

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

// AllArches is the name --arch gives every architecture kmodvm has.
const AllArches = runcfg.AllArches

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
