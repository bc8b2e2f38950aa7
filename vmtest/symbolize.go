package vmtest

import (
	"debug/elf"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// symbolizeUnloaded names the frames a report printed as bare addresses
// because their module was gone by then (kmemleak's scan after unload):
// the module's own symbol table, and the address its .text was loaded at,
// give function and offset. A leak titled only "memory leak" then names
// the module function that allocated it.
func symbolizeUnloaded(kr *report.Kernel, kos []string) {
	objs := map[string]string{}
	for _, ko := range kos {
		objs[normalize(strings.TrimSuffix(filepath.Base(ko), ".ko"))] = ko
	}
	tables := map[string]*symtab{}
	for i := range kr.Findings {
		f := &kr.Findings[i]
		named := false
		for j := range f.Frames {
			fr := &f.Frames[j]
			if fr.Func != "" || fr.Addr == 0 {
				continue
			}
			for k := range kr.Modules {
				m := &kr.Modules[k]
				text, ok := m.Sections[".text"]
				ko := objs[normalize(m.Name)]
				if !ok || ko == "" || !m.Contains(fr.Addr) {
					continue
				}
				if tables[ko] == nil {
					tables[ko] = readSymtab(ko)
				}
				if s, off, ok := tables[ko].lookup(fr.Addr - text); ok {
					fr.Func, fr.Offset, fr.Size, fr.Module = s.Name, off, s.Size, m.Name
					if !named && f.Kind == "memory leak" && f.Title == "memory leak" {
						f.Title, f.Func, named = "memory leak in "+s.Name, s.Name, true
					}
				}
			}
		}
	}
}

// symtab is a module's functions in its .text section, by address.
type symtab struct{ syms []elf.Symbol }

func readSymtab(ko string) *symtab {
	t := &symtab{}
	f, err := elf.Open(ko)
	if err != nil {
		return t
	}
	defer f.Close()
	text := -1
	for i, s := range f.Sections {
		if s.Name == ".text" {
			text = i
		}
	}
	syms, _ := f.Symbols()
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && int(s.Section) == text {
			t.syms = append(t.syms, s)
		}
	}
	sort.Slice(t.syms, func(i, j int) bool { return t.syms[i].Value < t.syms[j].Value })
	return t
}

// lookup finds the function containing offset off of .text.
func (t *symtab) lookup(off uint64) (elf.Symbol, uint64, bool) {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].Value > off }) - 1
	if i < 0 {
		return elf.Symbol{}, 0, false
	}
	s := t.syms[i]
	if off >= s.Value+max(s.Size, 1) {
		return elf.Symbol{}, 0, false
	}
	return s, off - s.Value, true
}
