package qemu

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Symbols maps kernel addresses to function names. It reads the format
// shared by System.map and /proc/kallsyms: "address type name [module]".
type Symbols struct {
	syms []symbol // sorted by addr
}

type symbol struct {
	addr uint64
	name string
}

// Location is a symbolized address, in the kernel's own notation.
type Location struct {
	Addr   uint64
	Func   string // empty if unknown
	Offset uint64
	Size   uint64 // distance to the next symbol
}

// String formats l as the kernel does in its traces: "func+0x1e/0x40", or
// the bare address when the function is unknown.
func (l Location) String() string {
	if l.Func == "" {
		return fmt.Sprintf("0x%x", l.Addr)
	}
	return fmt.Sprintf("%s+0x%x/0x%x", l.Func, l.Offset, l.Size)
}

// LoadSymbols reads a System.map file.
func LoadSymbols(path string) (*Symbols, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load symbols: %w", err)
	}
	defer f.Close()
	s, err := ParseSymbols(f)
	if err != nil {
		return nil, fmt.Errorf("load symbols %s: %w", path, err)
	}
	return s, nil
}

// ParseSymbols reads System.map or /proc/kallsyms text. Only text symbols
// (types t, T, w, W) are kept: an instruction pointer lies in code. A map
// without any, like the stub Debian ships in its image packages ("The real
// System.map is in the linux-image-<version>-dbg package"), is an error.
func ParseSymbols(r io.Reader) (*Symbols, error) {
	var syms []symbol
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || !strings.ContainsAny(f[1], "tTwW") || len(f[1]) != 1 {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil || addr == 0 {
			continue
		}
		syms = append(syms, symbol{addr: addr, name: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("no text symbols")
	}
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	return &Symbols{syms: syms}, nil
}

// maxSymbolSize bounds the size guessed for the last symbol and rejects
// addresses far past any symbol (user space, modules without symbols).
const maxSymbolSize = 1 << 20

// Lookup symbolizes addr. The size of a symbol is the distance to the next
// one at a higher address.
func (s *Symbols) Lookup(addr uint64) Location {
	loc := Location{Addr: addr}
	if s == nil {
		return loc
	}
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].addr > addr }) - 1
	if i < 0 {
		return loc
	}
	// Aliases share an address; name the first one, as the kernel does.
	for i > 0 && s.syms[i-1].addr == s.syms[i].addr {
		i--
	}
	sym := s.syms[i]
	size := uint64(maxSymbolSize)
	for j := i + 1; j < len(s.syms); j++ {
		if s.syms[j].addr > sym.addr {
			size = s.syms[j].addr - sym.addr
			break
		}
	}
	if addr-sym.addr >= size {
		return loc
	}
	loc.Func, loc.Offset, loc.Size = sym.name, addr-sym.addr, size
	return loc
}
