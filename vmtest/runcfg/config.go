// Package runcfg holds a run's settings as its caller gives them: the
// Config that vmtest.Config names, its defaults (the kernel matrix, the
// jobs, the reboots), the progress a run reports (Step, Phase), the usage
// error (ErrConfig), what an interactive run talks to (Terminal, Debugger)
// and the names of the files a run writes for each kernel.
//
// It sits below vmtest and vmtest/run and imports nothing that builds or
// boots: not qemu, not kbuild. vmtest/kernel/kerneltest, which those packages'
// own tests import, takes the default kernel matrix from here. What a
// setting becomes for one kernel (its VM's machine, the time budget, the
// checks against the kernel and QEMU) needs the kernel's profile and QEMU,
// and is vmtest/run's.
package runcfg

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// DefaultKernels returns the matrix run when Config.Kernels is empty
// (kernel.DefaultSelectors).
func DefaultKernels() []string { return kernel.DefaultSelectors() }

// Config describes a run. The zero value runs nothing useful: set Modules
// and Tests at least.
type Config struct {
	// Kernels are kernel selectors ("6.1", "7.3-rt", a path); empty means
	// DefaultKernels.
	Kernels []string
	// Arch are the architectures whose kernels Kernels name (amd64,
	// arm64: vmtest/arch's names): each selector runs once per
	// architecture. Empty means amd64. A selector that names its
	// architecture itself (an ABI such as 6.1.0-57-arm64, a path) runs
	// once.
	Arch []string
	// Modules are directories of out-of-tree modules (Kbuild or Makefile),
	// built for each kernel and loaded in order before the tests.
	Modules []string
	// Params are module parameters as "module.name=value".
	Params []string
	// Tests are directories of Go packages whose tests run in the guest.
	// Each may belong to any Go module.
	Tests []string
	// TestArgs are passed to every guest test binary, e.g. "-test.run=X".
	TestArgs []string
	// Jobs bounds the kernels run at once; 0 means one per CPU.
	Jobs int
	// Accel is "auto" (default), "kvm" or "tcg".
	Accel string
	// MemoryMiB is each guest's RAM; 0 means what the kernel's profile
	// asks for (256 MiB for stock kernels, 1 GiB with KASAN).
	MemoryMiB int
	// CPUs is each guest's CPU count; 0 means 1. Suites that test locking
	// want 2 or more: with one CPU nothing preempts a copy in progress.
	CPUs int
	// TestTimeout bounds each guest test binary; 0 means 10 minutes under
	// TCG and 3 under KVM, times the kernel's slowdown (a KASAN kernel's
	// profile says 3x).
	TestTimeout time.Duration
	// FaultGrace ends a guest test binary early, as failed and with the
	// guest's blocked tasks, when the kernel reported an Oops, BUG,
	// general protection fault, KASAN report, lockup or RCU stall while
	// it ran and its output then did not progress for this long. The host
	// ends the whole VM (a crash, with its blocked tasks and CPUs) when
	// the guest's agent sends nothing at all for this long after such a
	// report, or nothing of its run for this long and 15 s more while a
	// test binary runs. 0 means 20 s under TCG and 10 s under KVM, times
	// the kernel's slowdown; negative, never (the binary then waits for
	// TestTimeout, the VM for its own).
	FaultGrace time.Duration
	// MaxReboots bounds the fresh VMs a kernel boots to run the tests left
	// after a crash, a hang or a stalled test; 0 means 10, negative none.
	MaxReboots int
	// RebootTime bounds the same reboots in time: they run within this
	// after the first VM a crash ended (a reboot restored from the
	// kernel's snapshot costs under a second, a crash that wedges the
	// guest the fault grace); one still running then is ended and its
	// test is not run. 0 means 5 fault graces (100 s under TCG, 50 s under
	// KVM, times the kernel's slowdown); negative, no bound but
	// MaxReboots. The tests left when either bound is reached are
	// reported not run, naming the crashes.
	RebootTime time.Duration
	// Append holds extra kernel command-line parameters, after the ones
	// kmodvm and the kernel's profile set.
	Append []string
	// Timeout bounds each kernel (fetch, build and VM); 0 means enough for
	// the test timeouts plus boot.
	Timeout time.Duration
	// CacheDir is the kernel, toolchain and image cache; empty means
	// kernel.DefaultCacheDir().
	CacheDir string
	// OutDir receives per-kernel artifacts (build.log, console.log,
	// dmesg.txt, events.jsonl); empty means a temporary directory that is
	// removed after the run.
	OutDir string
	// Coverage builds the modules with gcov profiling and reports the
	// lines and branches the tests ran: per kernel (Kernel.Coverage, its
	// directory's coverage.info) and for all kernels (coverage.info in
	// OutDir). Every kernel must have CONFIG_GCOV_KERNEL (the -debug
	// ones do); a run that names one without it is an *ErrConfig.
	Coverage bool
	// InjectFaults sweeps each module's load and unload with fail-nth
	// before the tests: every injectable call (an allocation) fails in
	// turn, each point a test of report.PointPackage whose verdict is
	// what the kernel then found (docs/fault-injection.md). Every kernel
	// must have CONFIG_FAULT_INJECTION (the -debug ones do); a run that
	// names one without it is an *ErrConfig.
	InjectFaults bool
	// ScopeFaults, from 1 to 100, makes that percent of the calls made
	// from the first module under test's own code (its dependencies'
	// not) fail at random while the tests run, by the kernel's
	// stack-trace filter. Every kernel must have
	// CONFIG_FAULT_INJECTION_STACKTRACE_FILTER; a run that names one
	// without it is an *ErrConfig.
	ScopeFaults int
	// SweepJobs is how many VMs sweep one kernel's points at once, each
	// every SweepJobs-th point (docs/fault-injection.md); 0 means
	// SweepVMs' default, 1 one VM.
	SweepJobs int
	// Fuzz, if set, makes the run a fuzz job (kmodvm fuzz): the modules
	// are built with KCOV_INSTRUMENT=y and the harness runs in each
	// kernel's guest after the Tests, with the modules loaded. Every kernel
	// must have CONFIG_KCOV (the -debug ones do); a run that names one
	// without it is an *ErrConfig.
	Fuzz *Fuzz
	// W1 builds modules with W=1; Werror fails builds that warn.
	W1, Werror bool
	// MakeVars are VAR=value variables for the module builds' make
	// command line: a module's own switches (xtables-addons'
	// XA_ABSTOPSRCDIR, a driver's CONFIG_FOO=m) or KBUILD_EXTRA_SYMBOLS.
	// Those kmodvm sets from the kernel (M, ARCH, CROSS_COMPILE, CC, ...)
	// are refused (kbuild.CheckMakeVar).
	MakeVars []string
	// Offline uses only cached kernels.
	Offline bool
	// KernelDebugInfo resolves the kernel's own frames in findings to
	// source lines (and gives gdb the kernel's symbols) on kernels without
	// a vmlinux with DWARF of their own: Debian's kernels, through their
	// -dbg package, downloaded once into the cache (0.8-1.2 GB; about
	// 630 MB kept per kernel). Kernels built from source have theirs.
	KernelDebugInfo bool
	// KDir is the tree to build against for kernels given as a path to a
	// boot image (a path to a kernel build tree needs none).
	KDir string
	// Progress, if set, receives each kernel's steps as they happen.
	Progress func(Step)
	// Shell, if set, gives a shell in the guest instead of running the
	// tests: the one kernel boots with the modules loaded and the test
	// binaries in initramfs.TestsDir, u-root's shell runs on Shell until
	// it exits, and the VM powers off (unloading the modules).
	Shell *Terminal
	// GDB, if set, starts QEMU's gdb stub listening on this host:port
	// ("127.0.0.1:1234"): the one kernel's guest stops once its modules
	// are loaded, OnDebugger is told how to attach, and the tests (or the
	// shell) start when it returns.
	GDB        string
	OnDebugger func(ctx context.Context, d Debugger) error
	// Keep keeps each kernel's guest image in its directory
	// (initramfs.cpio), for repro.sh; without it repro.sh rebuilds the
	// image from the cached layers.
	Keep bool
	// NoSnapshot boots every VM. By default a kernel's VM resumes from a
	// snapshot of a guest booted to the agent's idle point (made by the
	// first run that needs it, kept in the cache), and the run's modules
	// and tests reach it over shared memory; see docs/snapshots.md. A
	// snapshot that is missing, stale, damaged or fails to restore is
	// never used: the VM then boots. Interactive runs (Shell, GDB) always
	// boot.
	NoSnapshot bool
	// Log receives diagnostic lines (downloads, toolchain set-up); nil
	// discards them.
	Log io.Writer
	// Allow is the allow-list of known kernel findings (kmodvm.toml's
	// [[allow]]): a finding whose title a rule in force matches is
	// reported allowed, with the rule's reason, and fails neither its
	// test nor its kernel. A rule past its expiry date allows nothing;
	// vmtest.Run fails for it, and the CLI exits 1 (allow.List.Overdue).
	// A rule without a pattern, a reason or a date is an *ErrConfig.
	Allow allow.List
}

// Step is a progress notification.
type Step struct {
	// Selector is the kernel as Config.Kernels names it; Kernel is its
	// name once known (the ABI), the selector before.
	Selector string
	Kernel   string
	Phase    Phase
	// Detail says more: "42% of 85 MB" while fetching; during tests "N
	// run" when a test starts and "pass TestX" (fail, skip) when it ends,
	// and a fuzz job's status lines as it runs (FuzzStep).
	Detail string
	At     time.Time
}

// Phase is where a kernel is in its run.
type Phase string

// Phases, in order.
const (
	PhaseFetch Phase = "fetch"
	PhaseBuild Phase = "build"
	PhaseImage Phase = "image"
	PhaseBoot  Phase = "boot"
	PhaseTests Phase = "tests"
	PhaseDone  Phase = "done"
)

// AllArches is the name --arch gives every architecture kmodvm has.
const AllArches = "all"

// Arches checks architecture names and returns them, or the default
// architecture's alone when there are none; AllArches is every one.
func Arches(names []string) ([]string, error) {
	if len(names) == 0 {
		return []string{arch.Default}, nil
	}
	var out []string
	for _, n := range names {
		each := []string{n}
		if n == AllArches {
			each = arch.Names()
		} else if _, err := arch.Lookup(n); err != nil {
			return nil, err
		}
		for _, e := range each {
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Selectors are the kernels the run names: Kernels, or DefaultKernels.
func (c *Config) Selectors() []string {
	if len(c.Kernels) == 0 {
		return DefaultKernels()
	}
	return c.Kernels
}

// Parallel is Jobs, or one VM per CPU as far as available memory allows
// (each VM needs its guest RAM plus QEMU's own, about 200 MiB under TCG).
func (c *Config) Parallel() int {
	if c.Jobs > 0 {
		return c.Jobs
	}
	n := runtime.NumCPU()
	mem := c.MemoryMiB
	if mem <= 0 {
		mem = 256
	}
	if avail := availableMiB(); avail > 0 {
		n = min(n, max(1, avail/(mem+200)))
	}
	return n
}

// maxSweepVMs bounds the default of SweepJobs: past it a sweep's VMs
// cost more in starts and leak checks than they save.
const maxSweepVMs = 4

// SweepVMs is how many VMs sweep one kernel's points, with kernels
// kernels run at once, each VM of memMiB: SweepJobs, or the host's CPUs
// (and memory) shared among the kernels, a VM taking as many as it has
// guest CPUs, at most maxSweepVMs. One budget of CPUs: a run of one
// kernel on two CPUs sweeps in two VMs of one guest CPU or one of two, a
// run of six kernels there in one each. A sweeping guest keeps all its
// CPUs busy (the agent streams each point's kernel log and uevents while
// the module loads): on 2 host CPUs under TCG, 6.1-debug, the bundled
// driver with 2 guest CPUs swept 8 points a second in one VM and 6.9 in
// two.
func (c *Config) SweepVMs(kernels, memMiB int) int {
	if c.SweepJobs > 0 {
		return c.SweepJobs
	}
	n := min(runtime.NumCPU()/max(c.CPUs, 1), maxSweepVMs)
	if avail := availableMiB(); avail > 0 && memMiB > 0 {
		n = min(n, avail/(memMiB+200))
	}
	return max(1, n/max(1, min(kernels, c.Parallel())))
}

// availableMiB reads MemAvailable from /proc/meminfo; 0 if unknown.
func availableMiB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}

// CacheRoot is CacheDir, or the default cache.
func (c *Config) CacheRoot() string {
	if c.CacheDir != "" {
		return c.CacheDir
	}
	return kernel.DefaultCacheDir()
}

// Reboots is MaxReboots with its default.
func (c *Config) Reboots() int {
	switch {
	case c.MaxReboots == 0:
		return 10
	case c.MaxReboots < 0:
		return 0
	}
	return c.MaxReboots
}

// ParamsFor returns the parameters of module name as finit_module takes
// them ("a=1 b=2").
func (c *Config) ParamsFor(name string) string {
	var ps []string
	for _, p := range c.Params {
		mod, kv, ok := strings.Cut(p, ".")
		if ok && moddep.Name(mod) == moddep.Name(name) {
			ps = append(ps, kv)
		}
	}
	return strings.Join(ps, " ")
}

// Interactive says whether a person drives the VM: a shell, or a debugger
// the tests wait for. The agent then takes commands on the control port.
func (c *Config) Interactive() bool { return c.Shell != nil || c.GDB != "" }

// UseSnapshots says whether VMs start from snapshots.
func (c *Config) UseSnapshots() bool { return !c.NoSnapshot && !c.Interactive() }

// ErrConfig marks a configuration the user must fix.
type ErrConfig struct{ Msg string }

func (e *ErrConfig) Error() string { return e.Msg }
