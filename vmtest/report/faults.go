package report

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// PointPackage is the Package of the tests that are points of a
// fault-injection sweep (kmodvm run --inject-faults); their Name is the
// point's, "load/mymod/fail-nth=7".
const PointPackage = "inject-faults"

// FaultPoint is what a sweep's point was: the module's load or unload
// run with its Nth injectable call failing. Its Test's status is the
// kernel's verdict on what followed (a leak, a KASAN report, a WARN, a
// crash, something left behind), never the errno: failing is what the
// operation should do.
type FaultPoint struct {
	Op     string `json:"op"` // "load", "unload"
	Module string `json:"module"`
	Nth    int    `json:"nth"`
	// Calls is how many injectable calls the operation made with none
	// failed.
	Calls int `json:"calls,omitempty"`
	// Injected: the operation met its Nth call, which failed.
	Injected bool   `json:"injected"`
	Errno    int    `json:"errno,omitempty"`
	Error    string `json:"error,omitempty"`
	// Loaded: the module was there after the operation (a load that
	// succeeded in spite of the failure; an unload that failed). Tests:
	// the test binaries ran on that instance. TestedBy: they ran instead
	// on the instance of this point, an earlier one whose failure hit the
	// module at the same site.
	Loaded   bool   `json:"loaded,omitempty"`
	Tests    bool   `json:"tests,omitempty"`
	TestedBy string `json:"tested_by,omitempty"`
	// Leftover is what a failed load (or a done unload) left behind.
	Leftover []string `json:"leftover,omitempty"`
	// Stack is the failed call's, innermost first, as the kernel logged
	// it (empty for a failure it does not log: __GFP_NOWARN).
	Stack []Frame `json:"stack,omitempty"`
}

// injectionFrame names the frames of the fault injection and of the
// allocators a failure is injected in: the failure site lies past them.
var injectionFrame = regexp.MustCompile(`^(?:dump_stack.*|show_stack.*|fail_dump.*|should_fail.*|__should_fail.*|` +
	`slab_pre_alloc_hook.*|.*kmalloc.*|.*kmem_cache_alloc.*|.*alloc_pages.*|__alloc_.*|.*vmalloc.*|` +
	`kzalloc.*|kcalloc.*|krealloc.*|kstrdup.*|kmemdup.*|__get_free_pages.*|get_zeroed_page.*|.*_noprof)$`)

// Site returns the frame where the failure hit: the innermost frame in
// the module, else the first past the fault injection and the
// allocators (the module loader's call); nil without a stack.
func (p *FaultPoint) Site() *Frame {
	for i := range p.Stack {
		if p.Stack[i].Module != "" && p.Stack[i].Module == p.Module && !p.Stack[i].Unreliable {
			return &p.Stack[i]
		}
	}
	for i := range p.Stack {
		if fr := &p.Stack[i]; !fr.Unreliable && !injectionFrame.MatchString(fr.Func) {
			return fr
		}
	}
	return nil
}

// noStack is the site of a failure the kernel logged no stack for.
const noStack = "unknown (the kernel logged no stack: an allocation that asked for no warning, __GFP_NOWARN)"

// SiteText names the failure site: its line in its function when
// symbolized ("sweepmod/sweepmod.c:31 in sweepmod_init", the call of an
// inlined allocator, not the allocator's header), else the frame as the
// kernel printed it; "unknown (the kernel logged no stack)" without one.
func (p *FaultPoint) SiteText() string {
	fr := p.Site()
	if fr == nil {
		return noStack
	}
	if fr.File != "" {
		return fr.FuncLine().String() + " in " + fr.Func
	}
	return fr.String()
}

// FuncLine is f's source line in its own function: where functions were
// inlined at f, the call of the outermost of them (the last of Inline),
// else File:Line.
func (f Frame) FuncLine() Source {
	if n := len(f.Inline); n > 0 {
		return f.Inline[n-1]
	}
	return Source{Func: f.Func, File: f.File, Line: f.Line}
}

// Summary says what the point did in one line.
func (p *FaultPoint) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s with injectable call %d", p.Op, p.Module, p.Nth)
	if p.Calls > 0 {
		fmt.Fprintf(&b, " of %d", p.Calls)
	}
	if !p.Injected {
		b.WriteString(" not reached: nothing failed")
		return b.String()
	}
	b.WriteString(" failing at " + p.SiteText())
	switch {
	case p.Error != "":
		fmt.Fprintf(&b, "; returned %s (errno %d)", p.Error, p.Errno)
	case p.Op == "load" && p.TestedBy != "":
		b.WriteString("; loaded in spite of it; the tests ran on the instance of " + p.TestedBy + ", its failure at the same site")
	case p.Op == "load":
		b.WriteString("; loaded in spite of it")
	default:
		b.WriteString("; unloaded in spite of it")
	}
	return b.String()
}

// FaultSite is one place a sweep's failures hit, with the points that
// reached it and how the worst of them ended.
type FaultSite struct {
	Site     string  // SiteText
	InModule bool    // the site is the module's own code
	Points   []*Test // in the order they ran
	Worst    Status
	// Findings are the findings of its points, indexes into the
	// kernel's Findings, each once.
	Findings []int
}

// FaultSites groups k's sweep points that injected a failure by where
// it hit, in the order their first points ran.
func (k *Kernel) FaultSites() []FaultSite {
	var sites []FaultSite
	index := map[string]int{}
	for _, t := range k.Tests {
		p := t.Fault
		if p == nil || !p.Injected {
			continue
		}
		key := p.Op + " " + p.Module + " " + p.SiteText()
		i, ok := index[key]
		if !ok {
			i = len(sites)
			index[key] = i
			site := p.Site()
			sites = append(sites, FaultSite{Site: p.SiteText(), InModule: site != nil && site.Module == p.Module, Worst: Pass})
		}
		s := &sites[i]
		s.Points = append(s.Points, t)
		if worse(t.Status, s.Worst) {
			s.Worst = t.Status
		}
		for _, f := range t.Findings {
			if !slices.Contains(s.Findings, f) {
				s.Findings = append(s.Findings, f)
			}
		}
	}
	return sites
}

// statusRank orders statuses from best to worst.
var statusRank = map[Status]int{Pass: 0, Skip: 1, NotRun: 2, Fail: 3, Timeout: 4, Crash: 5, Error: 6}

func worse(a, b Status) bool { return statusRank[a] > statusRank[b] }
