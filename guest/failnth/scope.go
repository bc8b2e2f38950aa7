package failnth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Range is a span of kernel addresses, Start included, End not.
type Range struct{ Start, End uint64 }

// Empty reports whether r holds no address.
func (r Range) Empty() bool { return r.End <= r.Start }

// Overlaps reports whether r and o share an address.
func (r Range) Overlaps(o Range) bool {
	return !r.Empty() && !o.Empty() && r.Start < o.End && o.Start < r.End
}

// Scope is fault injection at random, limited to the calls made from one
// span of code while anything runs (a module's, while its tests run):
// the stack-trace filter (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)
// lets a call fail only when a frame of its stack, among the innermost
// Depth, lies in Require and none in Reject. The kernel keeps one range
// of each.
type Scope struct {
	Require, Reject Range
	// Probability is the percent of the calls in scope that fail;
	// Interval, if above 1, lets only every Interval-th of them be
	// considered; Times bounds the failures, 0 or less none.
	Probability, Interval, Times int
	// Depth is how many frames the filter looks at (the kernel's
	// default and most, 32, when 0).
	Depth int
	// Verbose is what the kernel logs of each failure, as Knobs'.
	Verbose int
}

// ScopeAttrs are the kinds of call a Scope makes fail, each a directory
// of knobs under DebugFS.
var ScopeAttrs = []string{"failslab", "fail_page_alloc", "fail_usercopy"}

// maxDepth is the kernel's MAX_STACK_TRACE_DEPTH for the filter.
const maxDepth = 32

// Knobs are the settings of s for each of ScopeAttrs: the filter's
// ranges first and the probability last, so that Apply, which restores
// in reverse, turns the failures off before it opens the filter again.
// Sleeping allocations and order-0 pages fail too, as in Knobs; every
// task's calls are considered (task-filter N), since the module's code
// runs in the tests' tasks and in the kernel's own.
func (s Scope) Knobs() ([]Knob, error) {
	if s.Require.Empty() {
		return nil, fmt.Errorf("fault injection scope: no code to limit the failures to")
	}
	if s.Reject.Overlaps(s.Require) {
		return nil, fmt.Errorf("fault injection scope: the rejected range %#x-%#x overlaps the required %#x-%#x", s.Reject.Start, s.Reject.End, s.Require.Start, s.Require.End)
	}
	if s.Probability < 1 || s.Probability > 100 {
		return nil, fmt.Errorf("fault injection scope: probability %d%%, want 1 to 100", s.Probability)
	}
	depth := s.Depth
	if depth <= 0 || depth > maxDepth {
		depth = maxDepth
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	var knobs []Knob
	for _, attr := range ScopeAttrs {
		set := func(name, v string) { knobs = append(knobs, Knob{attr + "/" + name, v}) }
		set("stacktrace-depth", strconv.Itoa(depth))
		set("require-start", u(s.Require.Start))
		set("require-end", u(s.Require.End))
		set("reject-start", u(s.Reject.Start))
		set("reject-end", u(s.Reject.End))
		set("task-filter", "N")
		set("space", "0")
		set("verbose", strconv.Itoa(s.Verbose))
		switch attr {
		case "failslab":
			set("ignore-gfp-wait", "N")
		case "fail_page_alloc":
			set("ignore-gfp-wait", "N")
			set("ignore-gfp-highmem", "N")
			set("min-order", "0")
		}
		times := s.Times
		if times <= 0 {
			times = -1 // the kernel's unbounded; its 0 fails nothing
		}
		set("times", strconv.Itoa(times))
		set("interval", strconv.Itoa(max(s.Interval, 1)))
		set("probability", strconv.Itoa(s.Probability))
	}
	return knobs, nil
}

// Span is the least range holding every one of rs that is not empty.
func Span(rs ...Range) Range {
	var out Range
	for _, r := range rs {
		if r.Empty() {
			continue
		}
		if out.Empty() {
			out = r
			continue
		}
		out.Start, out.End = min(out.Start, r.Start), max(out.End, r.End)
	}
	return out
}

// ErrNoFilter: the kernel has no stack-trace filter
// (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER), so a Scope cannot hold its
// failures to the code it names: none is made.
var ErrNoFilter = errors.New("the kernel has no fault-injection stack-trace filter (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER): failures cannot be limited to a module's code")

// Apply sets s's knobs under root for the kinds of call whose filter the
// kernel has, and returns what turns them off and the kinds that do not
// fail (ScopeAttrs' directories). A kind without the filter is left
// alone: its failures would hit the whole kernel.
func (s Scope) Apply(root string) (restore func() error, left []string, err error) {
	knobs, err := s.Knobs()
	if err != nil {
		return nil, nil, err
	}
	var kept []Knob
	for _, attr := range ScopeAttrs {
		if _, err := os.Stat(filepath.Join(root, attr, "require-start")); err != nil {
			left = append(left, attr)
			continue
		}
		for _, k := range knobs {
			if filepath.Dir(k.Path) == attr {
				kept = append(kept, k)
			}
		}
	}
	if len(kept) == 0 {
		return nil, left, ErrNoFilter
	}
	restore, _, err = Apply(root, kept)
	return restore, left, err
}
