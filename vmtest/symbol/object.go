package symbol

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Source is one source location of a frame: a function and the line of it
// that was executing.
type Source struct {
	Func string
	File string
	Line int
}

// ErrNoDebugInfo marks an object without DWARF: its frames keep their
// function names but get no source lines.
var ErrNoDebugInfo = errors.New("no debug info")

// Object is a kernel module (.ko) or a vmlinux, with its function symbols
// and, when it has them, its DWARF line tables.
type Object struct {
	Path string
	// funcs are the function symbols by address; addr is the synthetic
	// address (the section's base plus the symbol's value).
	funcs []function
	// sections places each allocated section of a relocatable object (by
	// name); a linked object's addresses are already distinct, and its
	// sections all sit at 0.
	sections map[string]section
	byName   map[string][]int // function name -> indexes into funcs
	dwarf    *dwarf.Data
	dwarfErr error
	units    []unit // compilation units by address, read on first use
}

type section struct{ base, size uint64 }

type function struct {
	name    string
	section string
	addr    uint64 // synthetic address
	size    uint64
	local   bool // a file's own symbol, not an exported one or an alias
}

// Open reads the symbols and DWARF of the ELF object at path. An object
// without DWARF opens: Lines then returns ErrNoDebugInfo.
func Open(path string) (*Object, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	o := &Object{Path: path, byName: map[string][]int{}, sections: map[string]section{}}
	bases := make([]uint64, len(f.Sections))
	if f.Type == elf.ET_REL {
		// Lay the sections out one after the other, as binutils does for
		// relocatable objects, so that no two share an address.
		var next uint64
		for i, s := range f.Sections {
			if s.Flags&elf.SHF_ALLOC == 0 {
				continue
			}
			if a := max(s.Addralign, 1); next%a != 0 {
				next += a - next%a
			}
			bases[i] = next
			o.sections[s.Name] = section{next, s.Size}
			next += max(s.Size, 1)
		}
	}
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
			continue
		}
		o.funcs = append(o.funcs, function{name: s.Name, section: f.Sections[s.Section].Name, addr: bases[s.Section] + s.Value, size: s.Size,
			local: elf.ST_BIND(s.Info) == elf.STB_LOCAL})
	}
	// Of two names at one address FuncAt takes the later: a function's
	// own (local) name, not the global alias module_init and module_exit
	// give it (init_module, cleanup_module).
	sort.SliceStable(o.funcs, func(i, j int) bool {
		a, b := o.funcs[i], o.funcs[j]
		return a.addr < b.addr || (a.addr == b.addr && !a.local && b.local)
	})
	for i, fn := range o.funcs {
		o.byName[fn.name] = append(o.byName[fn.name], i)
	}
	o.dwarf, o.dwarfErr = readDWARF(f, bases)
	if o.dwarfErr != nil {
		o.dwarfErr = fmt.Errorf("%s: %w", path, o.dwarfErr)
	}
	return o, nil
}

// DebugInfo reports whether the object's DWARF could be read.
func (o *Object) DebugInfo() bool { return o.dwarf != nil }

// Func finds the function a report names as name+off/size: its address,
// to look its lines up with Lines. A size of 0 means unknown; otherwise it
// picks between static functions of one name in different files.
func (o *Object) Func(name string, size uint64) (addr uint64, ok bool) {
	idx := o.byName[name]
	if len(idx) == 0 {
		return 0, false
	}
	for _, i := range idx {
		if size != 0 && o.funcs[i].size == size {
			return o.funcs[i].addr, true
		}
	}
	return o.funcs[idx[0]].addr, true
}

// FuncAt names the function that holds offset off of section (for a
// frame printed as a bare address; a linked object's section is "" and off
// its address): the function's name, the offset into it, its size, and the
// address to look its lines up with.
func (o *Object) FuncAt(section string, off uint64) (name string, funcOff, size, addr uint64, ok bool) {
	addr, found := o.Addr(section, off)
	if !found {
		return "", 0, 0, 0, false
	}
	i := sort.Search(len(o.funcs), func(i int) bool { return o.funcs[i].addr > addr }) - 1
	if i < 0 {
		return "", 0, 0, 0, false
	}
	fn := o.funcs[i]
	if (section != "" && fn.section != section) || addr >= fn.addr+max(fn.size, 1) {
		return "", 0, 0, 0, false
	}
	return fn.name, addr - fn.addr, fn.size, addr, true
}

// Addr is the address of offset off of section, to look its lines up with
// Lines (addr2line -j section off).
func (o *Object) Addr(section string, off uint64) (uint64, bool) {
	if section == "" {
		return off, true
	}
	s, ok := o.sections[section]
	return s.base + off, ok && off < s.size
}

// readDWARF returns the object's DWARF. Relocatable objects get their
// relocations applied with the sections at bases (debug/elf would apply
// them with every section at 0).
func readDWARF(f *elf.File, bases []uint64) (*dwarf.Data, error) {
	if f.Section(".debug_info") == nil {
		return nil, ErrNoDebugInfo
	}
	if f.Type != elf.ET_REL {
		return f.DWARF()
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	sec := map[string][]byte{}
	for i, s := range f.Sections {
		name, ok := strings.CutPrefix(s.Name, ".debug_")
		if !ok {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		b = append([]byte(nil), b...)
		for _, r := range f.Sections {
			if (r.Type == elf.SHT_RELA || r.Type == elf.SHT_REL) && int(r.Info) == i {
				if err := relocate(f, b, r, syms, bases); err != nil {
					return nil, fmt.Errorf("%s: %w", r.Name, err)
				}
			}
		}
		sec[name] = b
	}
	d, err := dwarf.New(sec["abbrev"], sec["aranges"], nil, sec["info"], sec["line"], nil, sec["ranges"], sec["str"])
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
		if b := sec[name]; b != nil {
			if err := d.AddSection(".debug_"+name, b); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// relocate applies the relocation section r (RELA, or REL with addends in
// place: i386's) to b, the data of the section r relocates: the absolute
// relocations DWARF uses, of the architectures vmtest/arch describes.
func relocate(f *elf.File, b []byte, r *elf.Section, syms []elf.Symbol, bases []uint64) error {
	a := arch.ByMachine(f.Machine)
	if a == nil {
		return nil
	}
	rs, err := relocs(f, r)
	if err != nil {
		return err
	}
	order := f.ByteOrder
	for _, rel := range rs {
		if rel.sym == 0 || rel.sym > uint64(len(syms)) {
			continue
		}
		s := syms[rel.sym-1]
		if s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE || int(s.Section) >= len(bases) {
			continue
		}
		val := bases[s.Section] + s.Value + uint64(rel.addend)
		if applyPair(a.ELF, order, b, rel, val) {
			continue
		}
		width := uint64(relocWidth(a.ELF, rel.typ))
		if width == 0 || rel.off+width > uint64(len(b)) {
			continue
		}
		addend := uint64(rel.addend)
		if !rel.explicit {
			addend = uint64(order.Uint32(b[rel.off:]))
			if width == 8 {
				addend = order.Uint64(b[rel.off:])
			}
		}
		val = bases[s.Section] + s.Value + addend
		if width == 8 {
			order.PutUint64(b[rel.off:], val)
		} else {
			order.PutUint32(b[rel.off:], uint32(val))
		}
	}
	return nil
}

// applyPair applies rel when it is one of the architecture's ADD or SUB
// relocations (RISC-V's), which add val to the value in place or subtract
// it: an ADD and a SUB at one place leave the distance of their symbols.
// It reports whether rel was one.
func applyPair(e arch.ELF, order binary.ByteOrder, b []byte, rel reloc, val uint64) bool {
	width, add := e.Add[rel.typ]
	if !add {
		width = e.Sub[rel.typ]
	}
	if width == 0 {
		return false
	}
	if rel.off+uint64(width) > uint64(len(b)) {
		return true
	}
	at := b[rel.off:]
	var cur uint64
	switch width {
	case 1:
		cur = uint64(at[0])
	case 2:
		cur = uint64(order.Uint16(at))
	case 4:
		cur = uint64(order.Uint32(at))
	default:
		cur = order.Uint64(at)
	}
	if add {
		cur += val
	} else {
		cur -= val
	}
	switch width {
	case 1:
		at[0] = byte(cur)
	case 2:
		order.PutUint16(at, uint16(cur))
	case 4:
		order.PutUint32(at, uint32(cur))
	default:
		order.PutUint64(at, cur)
	}
	return true
}

// reloc is one relocation entry of either ELF class.
type reloc struct {
	off, sym uint64
	typ      uint32
	addend   int64
	// explicit says the entry carries its addend (RELA); a REL entry's
	// is the value at off.
	explicit bool
}

// relocs decodes the entries of r, an SHT_RELA or SHT_REL section of an
// ELF64 or ELF32 object.
func relocs(f *elf.File, r *elf.Section) ([]reloc, error) {
	d, err := r.Data()
	if err != nil {
		return nil, err
	}
	order, rela := f.ByteOrder, r.Type == elf.SHT_RELA
	var out []reloc
	if f.Class == elf.ELFCLASS64 {
		size := map[bool]int{true: 24, false: 16}[rela]
		for ; len(d) >= size; d = d[size:] {
			info := order.Uint64(d[8:])
			e := reloc{off: order.Uint64(d), sym: info >> 32, typ: uint32(info), explicit: rela}
			if rela {
				e.addend = int64(order.Uint64(d[16:]))
			}
			out = append(out, e)
		}
		return out, nil
	}
	size := map[bool]int{true: 12, false: 8}[rela]
	for ; len(d) >= size; d = d[size:] {
		info := order.Uint32(d[4:])
		e := reloc{off: uint64(order.Uint32(d)), sym: uint64(info >> 8), typ: info & 0xff, explicit: rela}
		if rela {
			e.addend = int64(int32(order.Uint32(d[8:])))
		}
		out = append(out, e)
	}
	return out, nil
}

// relocWidth is the size in bytes an absolute relocation writes, or 0 for
// a relocation DWARF does not need.
func relocWidth(e arch.ELF, typ uint32) int {
	switch {
	case slices.Contains(e.Abs64, typ):
		return 8
	case slices.Contains(e.Abs32, typ):
		return 4
	}
	return 0
}

// HasDebugInfo reports whether the ELF file at path has DWARF, without
// reading it.
func HasDebugInfo(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Section(".debug_info") != nil
}
