package collect

import (
	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// steps are the stretches of a guest's run outside its tests in which the
// kernel's reports still have an author: each module's load and unload
// (its init and exit functions ran then), and the time before the first
// module under test, when every report is the kernel's own.
type steps struct {
	windows []step
	// kernelUntil is when the first module under test began loading or,
	// before that is known, when the agent said hello; 0 if neither.
	kernelUntil int64
	userLoaded  bool
	// last is the Mono of the agent's latest event: where a load or
	// unload began, for agents that do not send Start.
	last int64
}

type step struct {
	name       string // "load mmapdrv"
	start, end int64  // guest monotonic ns
}

// note records what an event says about the run's steps.
func (s *steps) note(ev event.Event) {
	switch ev.Type {
	case event.Hello:
		if !s.userLoaded {
			s.kernelUntil = ev.Mono
		}
	case event.ModuleLoad, event.ModuleUnload:
		if ev.Module == nil {
			break
		}
		start := ev.Start
		if start == 0 {
			start = s.last
		}
		verb := "load "
		if ev.Type == event.ModuleUnload {
			verb = "unload "
		}
		s.windows = append(s.windows, step{name: verb + ev.Module.Name, start: start, end: ev.Mono})
		if ev.Type == event.ModuleLoad && !ev.Module.Dep && !s.userLoaded {
			s.userLoaded, s.kernelUntil = true, start
		}
	case event.BinaryStart, event.BinaryEnd:
	default:
		return // kernel log batches and test output come from other goroutines
	}
	s.last = max(s.last, ev.Mono)
}

// kernelOwn reports whether a report logged at guest time mono came before
// any module under test was loaded.
func (s *steps) kernelOwn(mono int64) bool {
	return mono != 0 && mono < s.kernelUntil
}

// at names the load or unload running at guest time mono, or "".
func (s *steps) at(mono int64) string {
	if mono == 0 {
		return ""
	}
	for _, w := range s.windows {
		if w.start <= mono && mono <= w.end {
			return w.name
		}
	}
	return ""
}

// reportFinding turns a scanned finding into the report's, keeping where
// it happened as data.
func reportFinding(f dmesg.Finding) report.Finding {
	rf := report.Finding{Kind: string(f.Kind), Title: f.Title, Report: f.Report, Module: f.Module,
		Func: f.Func, Time: f.Time.Seconds(), PC: reportFrame(f.PC), LR: reportFrame(f.LR), Handler: reportFrame(f.Handler)}
	for _, fr := range f.Frames {
		rf.Frames = append(rf.Frames, *reportFrame(fr))
	}
	return rf
}

func reportFrame(f dmesg.Frame) *report.Frame {
	if f.IsZero() {
		return nil
	}
	return &report.Frame{Func: f.Func, Offset: f.Offset, Size: f.Size, Module: f.Module, Addr: f.Addr, Unreliable: f.Unreliable}
}
