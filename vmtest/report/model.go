package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
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
	Reboots  []*Boot           `json:"reboots,omitempty"`
	Modules  []Module          `json:"modules,omitempty"`
	Tests    []*Test           `json:"tests,omitempty"`
	Findings []Finding         `json:"findings,omitempty"`
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
}

// Finding is something alarming in the kernel log.
type Finding struct {
	Kind   string `json:"kind"`
	Title  string `json:"title"`
	Report string `json:"report,omitempty"`
	Module string `json:"module,omitempty"`
	// Test names the test that was running, if any.
	Test string `json:"test,omitempty"`
	// Step names the module load or unload that was running when no test
	// was: "load mmapdrv", "unload mmapdrv".
	Step string `json:"step,omitempty"`
	// Owner is OwnerKernel for a report the kernel printed before the first
	// module under test was loaded: kept and shown, never the module's
	// failure.
	Owner string `json:"owner,omitempty"`
	// Func is the function the report happened in, the one its title
	// names; Time the kernel log timestamp of its first line, in seconds
	// since boot (0 if unknown).
	Func string  `json:"func,omitempty"`
	Time float64 `json:"time,omitempty"`
	// PC is the code location the report's registers name (x86 RIP, arm64
	// pc), LR arm64's link register.
	PC *Frame `json:"pc,omitempty"`
	LR *Frame `json:"lr,omitempty"`
	// Frames is the call trace, innermost first.
	Frames []Frame `json:"frames,omitempty"`
}

// OwnerKernel is the Owner of a finding that is the kernel's own.
const OwnerKernel = "kernel"

// Frame is one entry of a call trace: "? func+0x1a/0x40 [module]".
type Frame struct {
	Func   string `json:"func,omitempty"`
	Offset uint64 `json:"offset,omitempty"`
	Size   uint64 `json:"size,omitempty"`
	Module string `json:"module,omitempty"`
	// Addr is set for a frame the kernel printed as a bare address (code
	// of a module already unloaded).
	Addr uint64 `json:"addr,omitempty"`
	// Unreliable marks a frame printed with "?".
	Unreliable bool `json:"unreliable,omitempty"`
	// File and Line are the source line of the frame's code, from the
	// DWARF of the module (or of a vmlinux with debug info): the line
	// executing for the frame that faulted, the call for a return address.
	// A module's files are named as its build diagnostics are (the
	// module's directory joined with the file's path in it), the kernel's
	// relative to its tree. When functions were inlined there, File:Line
	// is in the innermost and Inline holds the whole chain.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Inline is the chain addr2line -i prints, innermost first, set only
	// when the code at the frame was inlined: Inline[0] is File:Line in
	// the inlined function, each later entry the call of the one before
	// it, the last one in Func itself.
	Inline []Source `json:"inline,omitempty"`
}

// Source is a line of a function.
type Source struct {
	Func string `json:"func,omitempty"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// String is the location as compilers print it: "file:line".
func (s Source) String() string {
	if s.Line <= 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// String renders f as the kernel printed it: "func+0x1a/0x40 [module]",
// or its bare address.
func (f Frame) String() string {
	var s string
	switch {
	case f.Func == "":
		s = fmt.Sprintf("%#x", f.Addr)
	case f.Size > 0:
		s = fmt.Sprintf("%s+%#x/%#x", f.Func, f.Offset, f.Size)
	default:
		s = fmt.Sprintf("%s+%#x", f.Func, f.Offset)
	}
	if f.Module != "" {
		s += " [" + f.Module + "]"
	}
	return s
}

// Where is f's source line, with the functions inlined there:
// "kmod/mmapdrv.c:117", or "faultmod/faultmod.c:49 (faultmod_oops, inlined
// in faultmod_ioctl at faultmod/faultmod.c:171)"; "" when f was not
// symbolized.
func (f Frame) Where() string {
	if f.File == "" {
		return ""
	}
	loc := Source{File: f.File, Line: f.Line}.String()
	if len(f.Inline) < 2 {
		return loc
	}
	parts := []string{f.Inline[0].Func}
	for i, s := range f.Inline[1:] {
		in := "in "
		if i == 0 {
			in = "inlined in "
		}
		parts = append(parts, in+s.Func+" at "+s.String())
	}
	return loc + " (" + strings.Join(parts, ", ") + ")"
}

// Source returns f's first frame in a module with a source line, the
// place in the module's code a reader wants first: the faulting
// instruction (PC) if it is the module's, else the innermost such frame
// of the call trace.
func (f Finding) Source() (Frame, bool) {
	if f.PC != nil && f.PC.File != "" && f.PC.Module != "" {
		return *f.PC, true
	}
	for _, fr := range f.Frames {
		if fr.File != "" && fr.Module != "" && !fr.Unreliable {
			return fr, true
		}
	}
	for _, fr := range f.Frames {
		if fr.File != "" && fr.Module != "" {
			return fr, true
		}
	}
	return Frame{}, false
}

// Trace renders f's code locations, one a line: the PC (and LR), then the
// call trace, each frame with its source line when it has one. It is ""
// when no frame has a source line: the report itself says it all then.
func (f Finding) Trace() string {
	var b strings.Builder
	lines := false
	add := func(label string, fr Frame) {
		b.WriteString(label)
		if fr.Unreliable {
			b.WriteString("? ")
		}
		b.WriteString(fr.String())
		if w := fr.Where(); w != "" {
			b.WriteString("  " + w)
			lines = true
		}
		b.WriteString("\n")
	}
	f.EachFrame(add)
	if !lines {
		return ""
	}
	return b.String()
}

// KernelOwn reports whether f is the kernel's own bug, not the module's.
func (f Finding) KernelOwn() bool { return f.Owner == OwnerKernel }

// Where says when the kernel printed f.
func (f Finding) Where() string {
	switch {
	case f.Test != "":
		return "during " + f.Test
	case f.Step != "":
		return "during " + f.Step
	case f.KernelOwn():
		return "before any module under test was loaded: the kernel's own"
	}
	return "outside any test"
}

// Blames reports whether f fails the kernel's verdict by itself: a bug
// report that no test took the blame for and that is not the kernel's own.
func (f Finding) Blames() bool { return f.Test == "" && f.Kind != KindTaint && !f.KernelOwn() }

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

// Failed reports whether any kernel failed or has no verdict.
func (r *Report) Failed() bool {
	for _, k := range r.Kernels {
		if k.Status != Pass {
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
// reports compare and merge deterministically.
func (r *Report) Sort() {
	sort.SliceStable(r.Kernels, func(i, j int) bool { return kernelLess(r.Kernels[i], r.Kernels[j]) })
}

func kernelLess(a, b *Kernel) bool { return versionLess(a.Name, b.Name) }

// EachFrame calls fn with the finding's PC, LR and call trace frames, in
// the order a report shows them, each with its label ("PC: ", "LR: ", or an
// indent for a trace frame).
func (f Finding) EachFrame(fn func(label string, fr Frame)) {
	if f.PC != nil {
		fn("PC: ", *f.PC)
	}
	if f.LR != nil {
		fn("LR: ", *f.LR)
	}
	for _, fr := range f.Frames {
		fn("  ", fr)
	}
}
