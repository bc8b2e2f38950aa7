package symbol

import (
	"debug/dwarf"
	"errors"
	"io"
	"sort"
)

// unit is one compilation unit and the code it covers.
type unit struct {
	entry  *dwarf.Entry
	ranges [][2]uint64
	rows   []row // its line table, read on first use
	files  []*dwarf.LineFile
}

// row is one row of a line table; a sequence ends with an end row.
type row struct {
	addr uint64
	file string
	line int
	end  bool
}

// Lines returns the source locations of the code at addr (from Func or
// FuncAt), innermost first, as addr2line -i -f prints them: the line
// executing, in the function inlined there if one was, then each call
// site of an inlined function, in the function it was inlined into, out
// to the function the symbol names. File names are as the compiler
// recorded them (absolute for a module built by kbuild).
func (o *Object) Lines(addr uint64) ([]Source, error) {
	if o.dwarf == nil {
		return nil, o.dwarfErr
	}
	u := o.unit(addr)
	if u == nil {
		return nil, nil
	}
	if err := o.readLines(u); err != nil {
		return nil, err
	}
	inner := u.line(addr)
	chain, err := o.scopes(u, addr)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		// No function in the DWARF (a prefix of padding before a
		// function): the symbol table names it, as for binutils.
		if inner.File == "" {
			return nil, nil
		}
		inner.Func = o.symbolAt(addr)
		return []Source{inner}, nil
	}
	out := make([]Source, 0, len(chain))
	inner.Func = o.name(chain[len(chain)-1])
	out = append(out, inner)
	for i := len(chain) - 1; i > 0; i-- {
		call := Source{Func: o.name(chain[i-1])}
		if n, ok := chain[i].Val(dwarf.AttrCallFile).(int64); ok && n >= 0 && int(n) < len(u.files) && u.files[n] != nil {
			call.File = u.files[n].Name
		}
		if n, ok := chain[i].Val(dwarf.AttrCallLine).(int64); ok {
			call.Line = int(n)
		}
		out = append(out, call)
	}
	return out, nil
}

// readLines reads u's line table once.
func (o *Object) readLines(u *unit) error {
	if u.rows != nil {
		return nil
	}
	u.rows = []row{}
	lr, err := o.dwarf.LineReader(u.entry)
	if err != nil || lr == nil {
		return err
	}
	var le dwarf.LineEntry
	for {
		if err := lr.Next(&le); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		r := row{addr: le.Address, line: le.Line, end: le.EndSequence}
		if le.File != nil {
			r.file = le.File.Name
		}
		u.rows = append(u.rows, r)
	}
	u.files = lr.Files()
	return nil
}

// line finds the line table's row for addr: the last row at or before it
// in the sequence that covers it (debug/dwarf's SeekPC stops at the first
// sequence that ends at addr, even when another starts there).
func (u *unit) line(addr uint64) Source {
	for i := 0; i+1 < len(u.rows); i++ {
		r, next := u.rows[i], u.rows[i+1]
		if !r.end && r.addr <= addr && addr < next.addr && r.line > 0 {
			return Source{File: r.file, Line: r.line}
		}
	}
	return Source{}
}

// symbolAt names the function symbol at or before addr.
func (o *Object) symbolAt(addr uint64) string {
	i := sort.Search(len(o.funcs), func(i int) bool { return o.funcs[i].addr > addr }) - 1
	if i < 0 {
		return ""
	}
	return o.funcs[i].name
}

// unit finds the compilation unit covering addr.
func (o *Object) unit(addr uint64) *unit {
	if o.units == nil {
		o.units = []unit{}
		r := o.dwarf.Reader()
		for {
			e, err := r.Next()
			if err != nil || e == nil {
				break
			}
			if e.Tag == dwarf.TagCompileUnit {
				rs, _ := o.dwarf.Ranges(e)
				o.units = append(o.units, unit{entry: e, ranges: rs})
			}
			r.SkipChildren()
		}
	}
	for i := range o.units {
		if covers(o.units[i].ranges, addr) {
			return &o.units[i]
		}
	}
	return nil
}

// scopes returns the subprogram holding addr and the inlined subroutines
// within it that hold addr, outermost first.
func (o *Object) scopes(u *unit, addr uint64) ([]*dwarf.Entry, error) {
	r := o.dwarf.Reader()
	r.Seek(u.entry.Offset)
	if _, err := r.Next(); err != nil { // the unit itself
		return nil, err
	}
	var chain []*dwarf.Entry
	depth := 0
	for {
		e, err := r.Next()
		if err != nil {
			return chain, err
		}
		if e == nil {
			return chain, nil
		}
		if e.Tag == 0 { // the end of a list of children
			depth--
			if depth < 0 || (depth == 0 && len(chain) > 0) {
				return chain, nil
			}
			continue
		}
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
			rs, _ := o.dwarf.Ranges(e)
			if !covers(rs, addr) {
				if e.Children {
					r.SkipChildren()
				}
				continue
			}
			if e.Tag != dwarf.TagLexDwarfBlock {
				chain = append(chain, e)
			}
			if !e.Children {
				if depth == 0 {
					return chain, nil
				}
				continue
			}
			depth++
		default:
			if e.Children {
				r.SkipChildren()
			}
		}
	}
}

func covers(ranges [][2]uint64, addr uint64) bool {
	for _, rg := range ranges {
		if addr >= rg[0] && addr < rg[1] {
			return true
		}
	}
	return false
}

// name is the name of a subprogram or inlined subroutine, found through
// its abstract origin or specification when it has none of its own.
func (o *Object) name(e *dwarf.Entry) string {
	for range 8 {
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			return n
		}
		ref, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			if ref, ok = e.Val(dwarf.AttrSpecification).(dwarf.Offset); !ok {
				return ""
			}
		}
		r := o.dwarf.Reader()
		r.Seek(ref)
		next, err := r.Next()
		if err != nil || next == nil {
			return ""
		}
		e = next
	}
	return ""
}
