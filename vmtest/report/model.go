package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/coverage"
)

// SchemaVersion is the version of the JSON schema; it changes when a field
// changes meaning or disappears (adding fields does not change it).
const SchemaVersion = 1

// Status is the outcome of a step, a test or a kernel.
type Status string

// Statuses, from best to worst. Error means kmodvm or the VM broke (an
// infrastructure error), not the module.
const (
	Pass    Status = "pass"
	Skip    Status = "skip"
	Fail    Status = "fail"
	Timeout Status = "timeout"
	Crash   Status = "crash"
	Error   Status = "error"
	// NotRun marks a step that an earlier failure prevented.
	NotRun Status = "not-run"
)

// Failed reports whether s counts as a failure of the module.
func (s Status) Failed() bool { return s == Fail || s == Timeout || s == Crash }

// Report is the result of one kmodvm run (or of several, merged).
type Report struct {
	Schema   int       `json:"schema"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Partial is set when the run was interrupted before every kernel
	// finished.
	Partial bool      `json:"partial,omitempty"`
	Host    Host      `json:"host"`
	Kernels []*Kernel `json:"kernels"`
}

// Host describes where the run happened.
type Host struct {
	Name    string `json:"name,omitempty"`
	Accel   string `json:"accel,omitempty"`
	Kmodvm  string `json:"kmodvm,omitempty"`
	Shard   string `json:"shard,omitempty"`
	CPUs    int    `json:"cpus,omitempty"`
	Command string `json:"command,omitempty"`
}

// Kernel is everything that happened on one kernel.
type Kernel struct {
	Name     string `json:"name"` // the kernel's display name: the ABI
	Selector string `json:"selector,omitempty"`
	// ID is the kernel's identity (a hash of what it is made of: packages,
	// source and config); it, not the name, tells kernels apart when
	// reports merge. Empty when the selector never resolved.
	ID       string `json:"id,omitempty"`
	ABI      string `json:"abi,omitempty"`
	Version  string `json:"version,omitempty"`
	Origin   string `json:"origin,omitempty"`
	Provider string `json:"provider,omitempty"`
	Arch     string `json:"arch,omitempty"`
	// Variant is the debug configuration of a kernel built from source
	// ("debug", "kcsan"); Note what the user should know about it.
	Variant string `json:"variant,omitempty"`
	Note    string `json:"note,omitempty"`
	// Status summarises the kernel: pass, fail, or error when kmodvm could
	// not get a verdict (fetch failed, VM broke).
	Status Status `json:"status"`
	// Error says why the kernel has no verdict or failed outside any test.
	Error string `json:"error,omitempty"`
	Build *Build `json:"build,omitempty"`
	Boot  *Boot  `json:"boot,omitempty"`
	// Reboots are the VMs booted after Boot to run the tests a crash, a
	// hang or a stalled test left (Test.AfterReboot marks their results).
	Reboots []*Boot `json:"reboots,omitempty"`
	// SweepVMs are the VMs that swept a share of the fault-injection
	// points beside Boot's (kmodvm run --inject-faults --sweep-jobs),
	// each ending after its share; their reboots are among Reboots.
	SweepVMs []*Boot   `json:"sweep_vms,omitempty"`
	Modules  []Module  `json:"modules,omitempty"`
	Tests    []*Test   `json:"tests,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	// Coverage is the lines and branches of the modules' own sources that
	// ran, summed over the kernel's VMs (a run with coverage only).
	Coverage []coverage.File   `json:"coverage,omitempty"`
	Timing   Timing            `json:"timing"`
	Files    map[string]string `json:"files,omitempty"` // artifact name -> path
}

// RebootText says how often the kernel was booted again for the tests
// that a crash, a hang or a stalled test left, and how many ran then.
func (k *Kernel) RebootText() string {
	n := 0
	for _, t := range k.Tests {
		if t.AfterReboot {
			n++
		}
	}
	times := "once"
	if len(k.Reboots) > 1 {
		times = fmt.Sprintf("%d times", len(k.Reboots))
	}
	return fmt.Sprintf("booted again %s after a crash or hang; %d test(s) ran after a reboot", times, n)
}

// NotRunGroup is tests of a kernel that did not run, for one reason.
type NotRunGroup struct {
	Why   string // the tests' output's first line: "not run: the kernel crashed ..."
	Tests []*Test
}

// NotRunTests groups k's tests that did not run (NotRun) by why (their
// output's first line), in the order they first appear: after crashes whose reboots a budget bounded,
// every test left is one of them, saying which crashes kept it from
// running.
func (k *Kernel) NotRunTests() []NotRunGroup {
	var groups []NotRunGroup
	index := map[string]int{}
	for _, t := range k.Tests {
		if t.Status != NotRun {
			continue
		}
		why, _, _ := strings.Cut(strings.TrimSpace(t.Output), "\n")
		if why == "" {
			why = "not run"
		}
		i, ok := index[why]
		if !ok {
			i = len(groups)
			index[why] = i
			groups = append(groups, NotRunGroup{Why: why})
		}
		groups[i].Tests = append(groups[i].Tests, t)
	}
	return groups
}

// Build is the module build for one kernel.
type Build struct {
	Status    Status       `json:"status"` // pass (warnings allowed) or fail
	Toolchain string       `json:"toolchain,omitempty"`
	Warnings  []Diagnostic `json:"warnings,omitempty"`
	Errors    []Diagnostic `json:"errors,omitempty"`
	Log       string       `json:"log,omitempty"` // path
	Error     string       `json:"error,omitempty"`
}

// Diagnostic is a compiler message about the module's source.
type Diagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Boot is how the VM ran.
type Boot struct {
	Status Status `json:"status"` // pass, timeout, crash (kernel panic), error (VM broke)
	// Exit is QEMU's end as the monitor saw it: poweroff, reset, panic,
	// timeout, killed, qemu-error.
	Exit    string `json:"exit,omitempty"`
	Accel   string `json:"accel,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Error   string `json:"error,omitempty"`
	// Hang holds what the monitor saw of a hung guest: registers and the
	// symbolized instruction pointer.
	Hang    string `json:"hang,omitempty"`
	Console string `json:"console,omitempty"` // path
	// Snapshot says how the VM started when it used the kernel's snapshot
	// (docs/snapshots.md): "restored" from it, or "saved" (booted to the
	// idle point and saved it first). Empty for a cold boot.
	Snapshot string `json:"snapshot,omitempty"`
}

// Module is the load (and unload) of one module.
type Module struct {
	Name   string `json:"name"`
	Params string `json:"params,omitempty"`
	Dep    bool   `json:"dep,omitempty"`
	Load   Status `json:"load"`
	Error  string `json:"error,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Unload Status `json:"unload,omitempty"`
	// UnloadError is set when the module could not be unloaded: a
	// reference leak.
	UnloadError string `json:"unload_error,omitempty"`
	// Base and Size place the loaded module in the guest's memory, and
	// Sections its sections (".text", ".init.text"): frames of a module
	// since unloaded are attributed by them, and gdb loads its symbols
	// there.
	Base     uint64            `json:"base,omitempty"`
	Size     uint64            `json:"size,omitempty"`
	Sections map[string]uint64 `json:"sections,omitempty"`
}

// Contains reports whether addr lies in the module as it was loaded.
func (m *Module) Contains(addr uint64) bool {
	return m.Size > 0 && addr >= m.Base && addr < m.Base+m.Size
}

// Test is one Go test (or subtest) in the guest.
type Test struct {
	Package  string  `json:"package"`
	Name     string  `json:"name"`
	Status   Status  `json:"status"`
	Elapsed  float64 `json:"elapsed"` // seconds
	Output   string  `json:"output,omitempty"`
	Findings []int   `json:"findings,omitempty"` // indexes into Kernel.Findings
	// AfterReboot: the test ran in a fresh VM, booted because an earlier
	// test crashed, hung or wedged the kernel (Kernel.Reboots).
	AfterReboot bool `json:"after_reboot,omitempty"`
	// Fault, on a test of PointPackage, is the sweep's point it was.
	Fault *FaultPoint `json:"fault,omitempty"`
}

// Timing is where a kernel's time went, in seconds.
type Timing struct {
	Fetch float64 `json:"fetch"`
	Build float64 `json:"build"`
	Image float64 `json:"image"`
	Boot  float64 `json:"boot"` // VM start to the agent's hello
	Tests float64 `json:"tests"`
	// Boot and Tests are the first VM's; Total includes the reboots.
	Total float64 `json:"total"`
}

// KindTaint is the kind of findings that only record a taint flag
// (an out-of-tree or unsigned module was loaded): noted, never a failure.
const KindTaint = "taint"

// Bugs returns k's findings that are bugs, not mere taint notes.
func (k *Kernel) Bugs() []Finding {
	var out []Finding
	for _, f := range k.Findings {
		if f.Kind != KindTaint {
			out = append(out, f)
		}
	}
	return out
}

// BugsText counts k's bugs for a matrix's findings row: "2", or "2 (1
// allowed)" when the allow-list accepted some of them.
func (k *Kernel) BugsText() string {
	bugs := k.Bugs()
	allowed := 0
	for _, f := range bugs {
		if f.Allowed != nil {
			allowed++
		}
	}
	if allowed == 0 {
		return fmt.Sprint(len(bugs))
	}
	return fmt.Sprintf("%d (%d allowed)", len(bugs), allowed)
}

// Counts tallies the tests of a kernel or a report.
type Counts struct {
	Pass, Fail, Skip, Other int
}

// Counts tallies k's tests.
func (k *Kernel) Counts() Counts {
	var c Counts
	for _, t := range k.Tests {
		switch {
		case t.Status == Pass:
			c.Pass++
		case t.Status == Skip:
			c.Skip++
		case t.Status.Failed():
			c.Fail++
		default:
			c.Other++
		}
	}
	return c
}

// Failed reports whether any kernel failed or has no verdict. A skipped
// kernel (a series one architecture of the run lacks) is neither.
func (r *Report) Failed() bool {
	for _, k := range r.Kernels {
		if k.Status != Pass && k.Status != Skip {
			return true
		}
	}
	return false
}

// InfraError reports whether any kernel ended in an infrastructure error.
func (r *Report) InfraError() bool {
	for _, k := range r.Kernels {
		if k.Status == Error {
			return true
		}
	}
	return false
}

// Sort orders kernels by name and tests by package and name, so that
// reports compare and merge deterministically; a report of several
// architectures by architecture first, so that it stays grouped.
func (r *Report) Sort() {
	multi := r.MultiArch()
	sort.SliceStable(r.Kernels, func(i, j int) bool {
		a, b := r.Kernels[i], r.Kernels[j]
		if multi && a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return kernelLess(a, b)
	})
}

func kernelLess(a, b *Kernel) bool { return versionLess(a.Name, b.Name) }
