package symbol

import (
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// Module is a module under test as the host built it.
type Module struct {
	// Path is the .ko, with its debug info (the guest's copy may be
	// stripped).
	Path string
	// BuildDir is the directory the module was compiled in: its DWARF
	// names files there. Source is the module's directory as the user
	// gave it; a file under BuildDir is reported under Source.
	BuildDir, Source string
}

// Symbolizer resolves the frames of a kernel's findings. The zero value
// resolves nothing.
type Symbolizer struct {
	Modules []Module
	// Vmlinux is the kernel with debug info, or "": frames of the kernel
	// then keep their names only. Its addresses must be the ones the
	// kernel ran at (kmodvm boots with nokaslr).
	Vmlinux string
	// Trees are the kernel's source or header trees: a file of the
	// kernel's (a header inlined into the module, a vmlinux frame) is
	// named relative to the first that holds it.
	Trees []string

	objs map[string]*Object // by path; nil for one that failed to open
}

// Kernel resolves every frame of kr's findings it can: frames of a module
// under test through its .ko (bare addresses of a module since unloaded
// first get their function from the module instance the collector placed
// them in, or the module's load address), frames of the kernel through
// Vmlinux. A finding titled only "memory leak" is then named after the
// module function that allocated it, in kr.Error's reasons too.
func (s *Symbolizer) Kernel(kr *report.Kernel) {
	before, was := report.Dedup(kr.Findings)
	renamed := false
	a, err := arch.Lookup(kr.Arch)
	trapAfter := err == nil && a.Crash.TrapAfter
	for i := range kr.Findings {
		f := &kr.Findings[i]
		if f.PC != nil {
			s.frame(kr, f.PC, trapAfter && (f.Kind == "WARNING" || f.Kind == "BUG"))
		}
		if f.LR != nil {
			s.frame(kr, f.LR, true)
		}
		if f.Handler != nil {
			s.frame(kr, f.Handler, false)
		}
		for j := range f.Frames {
			fr := &f.Frames[j]
			unnamed := fr.Func == ""
			s.frame(kr, fr, true)
			if unnamed && fr.Func != "" && fr.Module != "" && f.Kind == "memory leak" && f.Title == "memory leak" {
				f.Title, f.Func = "memory leak in "+fr.Func, fr.Func
				renamed = true
			}
		}
	}
	if !renamed {
		return
	}
	// The verdict named each bug once by its old title (report.Dedup):
	// each of those names becomes the one its first report has now.
	after, is := report.Dedup(kr.Findings)
	done := map[int]bool{}
	for i := range kr.Findings {
		if !done[was[i]] {
			done[was[i]] = true
			kr.Error = strings.Replace(kr.Error, before[was[i]].Reason(), after[is[i]].Reason(), 1)
		}
	}
}

// Trace resolves a call trace of kr that is no finding's (the stack of
// a call a sweep made fail, report.FaultPoint.Stack): each frame is a
// return address but the innermost.
func (s *Symbolizer) Trace(kr *report.Kernel, frames []report.Frame) {
	for i := range frames {
		s.frame(kr, &frames[i], i > 0)
	}
}

// Frame resolves one frame of kr that is no finding's: an instruction
// pointer QEMU read from a hung guest (on arm64, with no NMI, the one
// pointer to the spinning code), as a bare address in fr.Addr or named.
func (s *Symbolizer) Frame(kr *report.Kernel, fr *report.Frame) { s.frame(kr, fr, false) }

// frame resolves one frame; ret says its address is a return address,
// whose call is the instruction before it.
func (s *Symbolizer) frame(kr *report.Kernel, fr *report.Frame, ret bool) {
	var o *Object
	var mod *Module
	var addr uint64
	switch {
	case fr.Func == "" && fr.Addr != 0:
		o, mod, addr = s.name(kr, fr)
		if o == nil {
			return
		}
	case fr.Func != "" && fr.Module != "":
		if mod = s.module(fr.Module); mod == nil {
			return
		}
		if o = s.open(mod.Path); o == nil {
			return
		}
		start, ok := o.Func(fr.Func, fr.Size)
		if !ok {
			return
		}
		addr = start + fr.Offset
	case fr.Func != "":
		if o = s.open(s.Vmlinux); o == nil {
			return
		}
		start, ok := o.Func(fr.Func, fr.Size)
		if !ok {
			return
		}
		addr = start + fr.Offset
	default:
		return
	}
	if ret && fr.Offset > 0 {
		addr--
	}
	lines, err := o.Lines(addr)
	if err != nil || len(lines) == 0 || lines[0].File == "" {
		return
	}
	out := make([]report.Source, len(lines))
	for i, l := range lines {
		out[i] = report.Source{Func: l.Func, File: s.path(mod, l.File), Line: l.Line}
	}
	fr.File, fr.Line = out[0].File, out[0].Line
	if len(out) > 1 {
		fr.Inline = out
	}
}

// name gives a bare address its function, from the module instance the
// collector placed it in, else the module loaded there first (or the
// kernel), and returns where to look its lines up.
func (s *Symbolizer) name(kr *report.Kernel, fr *report.Frame) (*Object, *Module, uint64) {
	if fr.Module != "" && fr.Section != "" {
		return s.inSection(fr, fr.Module, fr.Section, fr.SectionAddr)
	}
	for k := range kr.Modules {
		m := &kr.Modules[k]
		if !m.Contains(fr.Addr) {
			continue
		}
		// The section loaded nearest below the address holds it.
		sec, at := "", uint64(0)
		for name, base := range m.Sections {
			if base <= fr.Addr && base >= at {
				sec, at = name, base
			}
		}
		return s.inSection(fr, m.Name, sec, at)
	}
	o := s.open(s.Vmlinux)
	if o == nil {
		return nil, nil, 0
	}
	name, off, size, addr, ok := o.FuncAt("", fr.Addr)
	if !ok {
		return nil, nil, 0
	}
	fr.Func, fr.Offset, fr.Size = name, off, size
	return o, nil, addr
}

// inSection names fr's bare address from the .ko of module mod, whose
// section sec was loaded at at.
func (s *Symbolizer) inSection(fr *report.Frame, mod, sec string, at uint64) (*Object, *Module, uint64) {
	m := s.module(mod)
	if m == nil {
		return nil, nil, 0
	}
	o := s.open(m.Path)
	if o == nil {
		return nil, nil, 0
	}
	name, off, size, addr, ok := o.FuncAt(sec, fr.Addr-at)
	if !ok {
		return nil, nil, 0
	}
	fr.Func, fr.Offset, fr.Size, fr.Module = name, off, size, mod
	return o, m, addr
}

// module finds the module the kernel calls name.
func (s *Symbolizer) module(name string) *Module {
	for i := range s.Modules {
		if ModuleName(s.Modules[i].Path) == ModuleName(name) {
			return &s.Modules[i]
		}
	}
	return nil
}

// ModuleName is the name the kernel gives the module at path (or of that
// name): its file name without .ko, with dashes as underscores.
func ModuleName(path string) string { return moddep.Name(path) }

func (s *Symbolizer) open(path string) *Object {
	if path == "" {
		return nil
	}
	if o, ok := s.objs[path]; ok {
		return o
	}
	if s.objs == nil {
		s.objs = map[string]*Object{}
	}
	o, err := Open(path)
	if err != nil {
		o = nil
	}
	s.objs[path] = o
	return o
}

// path names a file as the report shows it: a module's under its source
// directory, the kernel's relative to its tree.
func (s *Symbolizer) path(mod *Module, file string) string {
	if mod != nil && mod.BuildDir != "" {
		if rel, ok := under(mod.BuildDir, file); ok {
			return filepath.Join(mod.Source, rel)
		}
	}
	for _, t := range s.Trees {
		if rel, ok := under(t, file); ok {
			return rel
		}
	}
	return file
}

func under(dir, file string) (string, bool) {
	if dir == "" || !filepath.IsAbs(file) {
		return "", false
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(file))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}
