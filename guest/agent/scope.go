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
	mod, deps := scopeModules(cfg.Modules, sc.Module)
	name := moduleName(mod)
	require, ok := moduleRange(mod)
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
func scopeModules(mods []event.Module, name string) (event.Module, []event.Module) {
	var deps []event.Module
	var mod event.Module
	for _, m := range mods {
		switch {
		case m.Dep:
			deps = append(deps, m)
		case mod.Path == "" && mod.Name == "" && !m.Early && (name == "" || moduleName(m) == name):
			mod = m
		}
	}
	if mod.Path == "" && mod.Name == "" {
		mod.Name = name
	}
	return mod, deps
}

// moduleRange is where module m's code lies: the span of its text
// sections but the init code's (whose failures are the sweep's, and
// which a test that reloads the module would meet: a reload lands where
// the module was, and an init that fails leaves the suite without it),
// from sysfs and the module file; else all of it, from /proc/modules.
func moduleRange(m event.Module) (failnth.Range, bool) {
	lm := loadedModule(moduleName(m), sectionSizer{}.of(m.Path))
	if lm == nil || lm.Base == 0 || lm.Size == 0 {
		return failnth.Range{}, false
	}
	if r := textSpan(lm.Sections, lm.Sizes); !r.Empty() {
		return r, true
	}
	return failnth.Range{Start: lm.Base, End: lm.Base + lm.Size}, true
}

// textSpan is the span of the text sections (".text", ".text.*",
// ".exit.text") of a module loaded at addrs, with sizes.
func textSpan(addrs, sizes map[string]uint64) failnth.Range {
	var rs []failnth.Range
	for name, a := range addrs {
		if name != ".text" && !strings.HasPrefix(name, ".text.") && name != ".exit.text" {
			continue
		}
		if n := sizes[name]; a != 0 && n > 0 {
			rs = append(rs, failnth.Range{Start: a, End: a + n})
		}
	}
	return failnth.Span(rs...)
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
