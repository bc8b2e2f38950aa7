package report

import (
	"fmt"
	"slices"
	"strings"
)

// Dedup collapses findings that are one bug into one: those of one kind
// and title whose reports happened in the same module code (bugFrame; a
// report that shows none joins the first that does) and in the same kind
// of place (in tests or outside any test, or all during one step, or all
// the kernel's own), so that what decides the verdict (Blames, KernelOwn)
// is what it was for each of them: reports outside any test join those of
// a test, which fail the test and with it the kernel, and are counted in
// Outside. The finding kept is one report (see merged), with Count the
// number of reports, Test and Tests the tests they were printed during
// (Tests when more than one) and LastTime the last one's time. It returns
// the findings in the order they first happened and, for each of fs, the
// index of the one it went into. A kernel that repeats a bug prints it
// dozens of times (mm's page checks, up to 60 a minute; one per call of a
// buggy ioctl): one line each hid the others in every rendering.
func Dedup(fs []Finding) ([]Finding, []int) {
	// A report that shows no module code joins the first of its kind,
	// title and place that does: a bad page map in an anonymous mapping
	// cannot say which driver's page it was; one in the driver's can.
	placed := map[string]string{}
	for _, f := range fs {
		if base, frame := f.dedupKey(), f.bugFrame(); frame != "" {
			if _, ok := placed[base]; !ok {
				placed[base] = frame
			}
		}
	}
	var out []Finding
	index := make([]int, len(fs))
	group := map[string]int{}
	for i, f := range fs {
		base, frame := f.dedupKey(), f.bugFrame()
		if frame == "" {
			frame = placed[base]
		}
		key := base + "\x00" + frame
		j, ok := group[key]
		if !ok {
			j = len(out)
			group[key] = j
			out = append(out, f)
		} else {
			out[j] = merged(out[j], f)
		}
		index[i] = j
	}
	return out, index
}

// DedupFindings collapses k's findings (Dedup) and points each test at the
// findings it now has.
func (k *Kernel) DedupFindings() {
	fs, index := Dedup(k.Findings)
	k.Findings = fs
	for _, t := range k.Tests {
		var ids []int
		seen := map[int]bool{}
		for _, i := range t.Findings {
			if i < 0 || i >= len(index) || seen[index[i]] {
				continue
			}
			seen[index[i]] = true
			ids = append(ids, index[i])
		}
		t.Findings = ids
	}
}

// dedupKey is what two reports of one bug have in common besides their
// module code (bugFrame).
func (f Finding) dedupKey() string {
	place := "test"
	if f.Step != "" {
		place = "step " + f.Step
	}
	return strings.Join([]string{f.Kind, f.Title, f.Owner, place}, "\x00")
}

// bugFrame names the module code a report happened in: the faulting
// instruction when it is a module's, else the handler the report names
// (a bad page map's: the trace is the unmap that found it), else the
// trace's first frame in a module (a reliable one first; by its place in
// the module while not named), else the first bare address (code of a
// module since unloaded, not yet named); "" when no frame is a module's.
func (f Finding) bugFrame() string {
	for _, fr := range []*Frame{f.PC, f.Handler} {
		if fr != nil && fr.Module != "" {
			return fr.codeKey()
		}
	}
	for _, reliable := range []bool{true, false} {
		for _, fr := range f.Frames {
			if fr.Module != "" && (!reliable || !fr.Unreliable) {
				return fr.codeKey()
			}
		}
	}
	for _, fr := range f.Frames {
		if fr.Func == "" && fr.Addr != 0 {
			return fmt.Sprintf("%#x", fr.Addr)
		}
	}
	return ""
}

// codeKey names a module frame's code: its function, or, not yet named,
// its place in the module's section (the same code of two instances
// loaded apart).
func (fr Frame) codeKey() string {
	if fr.Func == "" && fr.Section != "" {
		return fmt.Sprintf("%s %s+%#x", fr.Module, fr.Section, fr.Addr-fr.SectionAddr)
	}
	return fr.Module + " " + fr.Func
}

// merged is first with later's report of the same bug counted in. The
// report that stands for the bug is one in a test rather than one outside
// any, and one that shows the module code rather than one that does not;
// Test stays the first test the bug was seen in.
func merged(first, later Finding) Finding {
	outside := first.outsideCount() + later.outsideCount()
	count := first.Occurrences() + later.Occurrences()
	bytes := first.Bytes + later.Bytes
	last := later.LastTime
	if last == 0 {
		last = later.Time
	}
	tests := first.SeenIn()
	for _, t := range later.SeenIn() {
		if !slices.Contains(tests, t) {
			tests = append(tests, t)
		}
	}
	if later.standing() > first.standing() {
		first = later
	}
	first.Tests = nil
	if len(tests) > 0 {
		first.Test = tests[0]
	}
	if len(tests) > 1 {
		first.Tests = tests
	}
	first.Count = count
	first.Bytes = bytes
	first.Outside = 0
	if !first.outsideTests() {
		first.Outside = outside
	}
	if last != 0 {
		first.LastTime = last
	}
	return first
}

// standing ranks the reports of one bug for which stands for it: one in a
// test, then one that shows the module code.
func (f Finding) standing() int {
	n := 0
	if !f.outsideTests() {
		n += 2
	}
	if f.bugFrame() != "" {
		n++
	}
	return n
}

// outsideTests says whether f was printed outside any test, step or the
// kernel's own time.
func (f Finding) outsideTests() bool { return f.Test == "" && f.Step == "" && !f.KernelOwn() }

// outsideCount is how many of f's reports were printed outside any test.
func (f Finding) outsideCount() int {
	if f.outsideTests() {
		return f.Occurrences()
	}
	return f.Outside
}

// Occurrences is how many times the kernel printed f's report.
func (f Finding) Occurrences() int { return max(f.Count, 1) }

// SeenIn lists the tests f was printed during, the first first.
func (f Finding) SeenIn() []string {
	if len(f.Tests) > 0 {
		return f.Tests
	}
	if f.Test != "" {
		return []string{f.Test}
	}
	return nil
}

// Tally says how often f happened when more than once: "×60", "×60 in
// 12 tests", "×12, 491520 bytes" (a leak's objects); "" for a finding
// printed once.
func (f Finding) Tally() string {
	n := f.Occurrences()
	if n == 1 {
		return ""
	}
	s := fmt.Sprintf("×%d", n)
	if t := len(f.SeenIn()); t > 1 {
		s += fmt.Sprintf(" in %d tests", t)
	}
	if f.Bytes > 0 {
		s += fmt.Sprintf(", %d bytes", f.Bytes)
	}
	if f.Outside > 0 {
		s += fmt.Sprintf(" (%d outside any test)", f.Outside)
	}
	return s
}

// Seen says where and how often f happened: Where, after its Tally when
// it happened more than once ("×60 in 12 tests, first during
// mmapdrv.test: TestMmap").
func (f Finding) Seen() string {
	tally := f.Tally()
	switch {
	case tally == "":
		return f.Where()
	case len(f.SeenIn()) > 1 || f.Outside > 0:
		return tally + ", first " + f.Where()
	}
	return tally + " " + f.Where()
}

// Reason is how a verdict names f among its reasons: its headline, then
// how often and where it was seen ("BUG: Bad page map in process x (×60
// in 12 tests, first during TestA)").
func (f Finding) Reason() string { return f.Headline() + " (" + f.Seen() + ")" }
