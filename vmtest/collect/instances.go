package collect

import (
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// instance is one load of a module, the agent's or a test's: where it
// lay and when. The kernel hands a module's memory, its init code's
// first, to the next module loaded once it is freed, so an address names
// a module only together with a time.
type instance struct {
	name  string // as the kernel spells it
	place *event.LoadedModule
	// start is when the agent began loading it (0 for a load it did not
	// do); added is when the load was heard of, once the module's init
	// had returned (its init code is freed right after); removed when
	// its removal was, after its exit ran, 0 while loaded.
	start, added, removed int64
}

// history is every module instance of a VM's run, in the order they were
// loaded.
type history struct{ list []*instance }

// note records what an event says of a module's load or removal: the
// agent's own (ModuleLoad, ModuleUnload) and the kernel's announcements
// of every one (ModuleAdded, ModuleRemoved) tell of the same instances.
func (h *history) note(ev event.Event) {
	if ev.Module == nil || ev.Err != "" {
		return
	}
	switch ev.Type {
	case event.ModuleLoad, event.ModuleAdded:
		h.loaded(moddep.Name(ev.Module.Name), ev.Loaded, ev.Start, ev.Mono)
	case event.ModuleUnload, event.ModuleRemoved:
		h.unloaded(moddep.Name(ev.Module.Name), ev.Mono)
	}
}

// open returns the instance of module name still loaded, or nil: the
// kernel loads a module once at a time.
func (h *history) open(name string) *instance {
	for i := len(h.list) - 1; i >= 0; i-- {
		if in := h.list[i]; in.name == name {
			if in.removed == 0 {
				return in
			}
			return nil
		}
	}
	return nil
}

func (h *history) loaded(name string, place *event.LoadedModule, start, mono int64) {
	in := h.open(name)
	if in == nil {
		h.list = append(h.list, &instance{name: name, place: place, start: start, added: mono})
		return
	}
	// The second word of one load: keep its earliest times and its
	// fullest place (the one with the sections' sizes).
	in.added = min(in.added, mono)
	if start != 0 {
		in.start = start
	}
	if place != nil && (in.place == nil || len(in.place.Sizes) < len(place.Sizes)) {
		in.place = place
	}
}

func (h *history) unloaded(name string, mono int64) {
	if in := h.open(name); in != nil {
		in.removed = mono
	}
}

// at returns the instance whose code was at addr at guest time mono, and
// the section holding it; init says the code is a module's init function
// (do_one_initcall called it), which lies in an init section unless the
// module did not mark it __init. An instance's code is there from its
// start, when known, its init code until it was added, the rest until it
// was removed. With no instance there then, it is the one there last
// before (code run after its module went, or a time off by a tick); with
// mono unknown (0), the first.
func (h *history) at(addr uint64, mono int64, init bool) (*instance, string, uint64) {
	type candidate struct {
		in        *instance
		sec       string
		start     uint64
		end       int64 // 0: still there
		initSects bool
	}
	var cands []candidate
	initFound := false
	for _, in := range h.list {
		sec, start, ok := in.place.Section(addr)
		if !ok {
			continue
		}
		c := candidate{in: in, sec: sec, start: start, end: in.removed, initSects: isInitSection(sec)}
		if c.initSects {
			c.end = in.added
		}
		initFound = initFound || c.initSects
		cands = append(cands, c)
	}
	var last *candidate
	for i := range cands {
		c := &cands[i]
		if init && initFound && !c.initSects {
			continue
		}
		if mono != 0 && mono < c.in.start {
			continue
		}
		if mono == 0 || c.end == 0 || mono <= c.end {
			return c.in, c.sec, c.start
		}
		if last == nil || c.end > last.end {
			last = c
		}
	}
	if last == nil {
		return nil, "", 0
	}
	return last.in, last.sec, last.start
}

func isInitSection(name string) bool { return strings.HasPrefix(name, ".init") }

// place gives each bare address among a finding's frames the module
// instance whose code was there at guest time mono.
func (h *history) place(f *report.Finding, mono int64) {
	for _, fr := range []*report.Frame{f.PC, f.LR} {
		if fr != nil {
			h.placeFrame(fr, mono, false)
		}
	}
	for i := range f.Frames {
		init := i+1 < len(f.Frames) && f.Frames[i+1].Func == "do_one_initcall"
		h.placeFrame(&f.Frames[i], mono, init)
	}
}

// replace places again the frames of a kmemleak report, read at guest
// time read, that the kernel named after a module instance loaded after
// the object's allocation at alloc, at an address another one's code
// had then (the KUnit module loaded at the driver's freed init code).
// symbols are the named functions' addresses at the reading. A finding
// titled after a frame placed again loses the title, for the
// symbolizer to give it the right one.
func (h *history) replace(f *report.Finding, symbols map[string]uint64, alloc, read int64) {
	if alloc == 0 {
		return
	}
	for i := range f.Frames {
		fr := &f.Frames[i]
		sym, ok := symbols[fr.Func+" ["+fr.Module+"]"]
		if fr.Func == "" || fr.Module == "" || !ok {
			continue
		}
		addr := sym + fr.Offset
		init := i+1 < len(f.Frames) && f.Frames[i+1].Func == "do_one_initcall"
		then, sec, start := h.at(addr, alloc, init)
		if now, _, _ := h.at(addr, read, false); then == nil || then == now {
			continue
		}
		if f.Func == fr.Func {
			f.Title, f.Func = string(f.Kind), ""
		}
		*fr = report.Frame{Addr: addr, Module: then.name, Section: sec, SectionAddr: start, Unreliable: fr.Unreliable}
	}
}

func (h *history) placeFrame(fr *report.Frame, mono int64, init bool) {
	if fr.Func != "" || fr.Addr == 0 {
		return
	}
	in, sec, start := h.at(fr.Addr, mono, init)
	if in == nil {
		return
	}
	fr.Module, fr.Section, fr.SectionAddr = in.name, sec, start
}
