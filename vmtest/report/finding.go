package report

import (
	"fmt"
	"regexp"
	"strings"
)

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
	// Handler is module code the report names outside its call trace as
	// where what it found came from: a bad page map's mapping's fault
	// handler, which handed out the page (the trace is the unmap that
	// found it). Symbolized, it is the function's first line.
	Handler *Frame `json:"handler,omitempty"`
	// Frames is the call trace, innermost first.
	Frames []Frame `json:"frames,omitempty"`
	// Count is how many times the kernel printed this bug's report when
	// Dedup counted more than one (0 means once: reports from before
	// Dedup); the rest of the finding is the first report's. Tests are
	// the tests the reports were printed during, in order, when more
	// than one (Test is the first), and LastTime the last report's Time
	// (seconds since its VM's boot: a reboot's clock starts again).
	Count int `json:"count,omitempty"`
	// Outside is how many of Count were printed outside any test, of a
	// finding whose others were printed during tests.
	Outside  int      `json:"outside,omitempty"`
	Tests    []string `json:"tests,omitempty"`
	LastTime float64  `json:"last_time,omitempty"`
	// Bytes is, for a memory leak, the size of the objects leaked: the
	// one object's, or the sum over Count.
	Bytes uint64 `json:"bytes,omitempty"`
	// Allowed is the allow-list entry that accepted f (kmodvm.toml's
	// [[allow]]), nil for one none did: an allowed finding is kept and
	// shown with the entry's reason, and fails nothing.
	Allowed *Allowance `json:"allowed,omitempty"`
}

// Allowance is an allow-list entry as a finding it accepted records it:
// a known finding, why it is acceptable, and until when.
type Allowance struct {
	// Pattern is the entry's regular expression, which the finding's
	// title matched.
	Pattern string `json:"pattern"`
	Reason  string `json:"reason"`
	// Expires is the last day the entry allows findings, YYYY-MM-DD.
	Expires string `json:"expires"`
	// Source is where the entry was written ("kmodvm.toml:12"), if known.
	Source string `json:"source,omitempty"`
}

// String says that a finding was allowed, until when, by which entry and
// why: "allowed until 2026-06-30 by kmodvm.toml:12: known upstream bug".
func (a *Allowance) String() string {
	by := a.Source
	if by == "" {
		by = "/" + a.Pattern + "/"
	}
	return "allowed until " + a.Expires + " by " + by + ": " + a.Reason
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
	// Section and SectionAddr place a bare address in the instance of
	// Module that was loaded there when the frame ran (the run's history
	// of loads and unloads): the section holding Addr and the address it
	// was loaded at, so that code unloaded since, or loaded again
	// elsewhere, is named from its own instance, not from what lies there
	// later.
	Section     string `json:"section,omitempty"`
	SectionAddr uint64 `json:"section_addr,omitempty"`
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
// instruction (PC) if it is the module's, else the handler the report
// names (Handler), else the innermost such frame of the call trace.
func (f Finding) Source() (Frame, bool) {
	for _, fr := range []*Frame{f.PC, f.Handler} {
		if fr != nil && fr.File != "" && fr.Module != "" {
			return *fr, true
		}
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

// Headline names f in a list: its title, which for the kernel's reports
// already says what they are ("KASAN: use-after-free Read in f", "WARNING
// in f", "BUG: Bad page map in process p"), after its kind only when the
// title does not say it ("lockdep: possible deadlock in f"). Kind and
// title side by side said "BUG: BUG: Bad page map ...".
func (f Finding) Headline() string {
	if f.Kind == "" || titleSaysKind(f.Title, f.Kind) {
		return f.Title
	}
	return f.Kind + ": " + f.Title
}

// titleSaysKind reports whether a title names its kind: it opens with a
// tag of its own ("BUG: ", "INFO: ", "KASAN: "), or it holds every word
// of the kind ("general protection fault in f", "list_add corruption in
// f").
func titleSaysKind(title, kind string) bool {
	if titleTag.MatchString(title) {
		return true
	}
	lower := strings.ToLower(title)
	for _, w := range strings.Fields(strings.ToLower(kind)) {
		if !strings.Contains(lower, w) {
			return false
		}
	}
	return true
}

// titleTag is the capitalised tag syzkaller-style titles open with.
var titleTag = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*: `)

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
// report that no test took the blame for, that is not the kernel's own
// and that no allow-list entry accepted.
func (f Finding) Blames() bool {
	return f.Test == "" && f.Kind != KindTaint && !f.KernelOwn() && f.Allowed == nil
}

// EachFrame calls fn with the finding's PC, LR, handler and call trace
// frames, in the order a report shows them, each with its label ("PC: ",
// "LR: ", "handler: ", or an indent for a trace frame).
func (f Finding) EachFrame(fn func(label string, fr Frame)) {
	if f.PC != nil {
		fn("PC: ", *f.PC)
	}
	if f.LR != nil {
		fn("LR: ", *f.LR)
	}
	if f.Handler != nil {
		fn("handler: ", *f.Handler)
	}
	for _, fr := range f.Frames {
		fn("  ", fr)
	}
}
