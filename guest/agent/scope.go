package agent

import (
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/guest/failnth"
)

// scopeFaults makes the injectable calls of the module cfg.ScopeFaults
// names fail at random from now on, its dependencies' calls rejected,
// and returns what ends it. The kernel's filter keeps one range of
// each: the module's, and the span of its dependencies where that holds
// none of the module (modules lie in one area, in no order), else the
// first dependency's.
func (a *Agent) scopeFaults(cfg event.RunConfig) (stop func()) {
	stop = func() {}
	sc := cfg.ScopeFaults
	if sc == nil {
		return stop
	}
	if err := failnth.Available(); err != nil {
		a.logf("scoped faults: %v", err)
		return stop
	}
	name, deps := scopeModules(cfg.Modules, sc.Module)
	require, ok := moduleRange(name)
	if !ok {
		a.logf("scoped faults: %s is not loaded: nothing fails", name)
		return stop
	}
	var rs []failnth.Range
	for _, d := range deps {
		if r, ok := moduleRange(d); ok {
			rs = append(rs, r)
		}
	}
	s := failnth.Scope{Require: require, Reject: rejectRange(require, rs), Probability: sc.Probability, Times: sc.Times, Verbose: 2}
	restore, left, err := s.Apply(failnth.DebugFS)
	if err != nil {
		a.logf("scoped faults: %v", err)
		return stop
	}
	if len(left) > 0 {
		a.logf("scoped faults: no filter for %s: those calls do not fail", strings.Join(left, ", "))
	}
	a.logf("scoped faults: %d%% of the calls from %s's code fail (%#x-%#x)", sc.Probability, name, require.Start, require.End)
	return func() {
		if err := restore(); err != nil {
			a.logf("scoped faults: restore the knobs: %v", err)
		}
	}
}

// scopeModules returns the module named (the first under test when
// name is "") and the dependencies of the run.
func scopeModules(mods []event.Module, name string) (string, []string) {
	var deps []string
	for _, m := range mods {
		n := moduleName(m)
		switch {
		case m.Dep:
			deps = append(deps, n)
		case name == "" && !m.Early:
			name = n
		}
	}
	return name, deps
}

// moduleRange is where module name lies, from /proc/modules.
func moduleRange(name string) (failnth.Range, bool) {
	m := loadedModule(name, nil)
	if m == nil || m.Base == 0 || m.Size == 0 {
		return failnth.Range{}, false
	}
	return failnth.Range{Start: m.Base, End: m.Base + m.Size}, true
}

// rejectRange is the one range the filter rejects: the span of deps
// when it leaves require out, else the first of deps that does.
func rejectRange(require failnth.Range, deps []failnth.Range) failnth.Range {
	if span := failnth.Span(deps...); !span.Overlaps(require) {
		return span
	}
	for _, d := range deps {
		if !d.Overlaps(require) {
			return d
		}
	}
	return failnth.Range{}
}
