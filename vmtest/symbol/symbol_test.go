package symbol_test

import (
	"fmt"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// testdata/inline.o, as inline.c says: outer (.text, 0x16 bytes) with
// scale inlined at line 19, setup (.init.text) calling it at line 28.
const fixture = "testdata/inline.o"

func open(t *testing.T, path string) *symbol.Object {
	t.Helper()
	o, err := symbol.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !o.HasDebugInfo() {
		t.Fatalf("%s: no debug info", path)
	}
	return o
}

func TestLinesNameInlinedFunctionsInnermostFirst(t *testing.T) {
	o := open(t, fixture)
	start, ok := o.Func("outer", 0)
	if !ok {
		t.Fatal("no function outer")
	}
	got, err := o.Lines(start + 9) // imul: scale's a * sink
	if err != nil {
		t.Fatal(err)
	}
	want := []symbol.Source{{Func: "scale", File: "/build/mod/inline.c", Line: 14}, {Func: "outer", File: "/build/mod/inline.c", Line: 19}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outer+0x9: %+v, want %+v", got, want)
	}
}

// A .ko's sections all start at 0: offset 6 of .text and of .init.text
// are different code.
func TestSectionsOfARelocatableObjectDoNotOverlap(t *testing.T) {
	o := open(t, fixture)
	for _, c := range []struct {
		section string
		off     uint64
		want    symbol.Source
	}{
		{".text", 0xc, symbol.Source{Func: "outer", File: "/build/mod/inline.c", Line: 21}},
		{".init.text", 0xb, symbol.Source{Func: "setup", File: "/build/mod/inline.c", Line: 28}},
		{".init.text", 0xe, symbol.Source{Func: "setup", File: "/build/mod/inline.c", Line: 29}},
	} {
		addr, ok := o.Addr(c.section, c.off)
		if !ok {
			t.Fatalf("no %s+%#x", c.section, c.off)
		}
		got, err := o.Lines(addr)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s+%#x: %+v, %v; want %+v", c.section, c.off, got, err, c.want)
		}
	}
	if _, ok := o.Addr(".init.text", 0xf); ok {
		t.Error(".init.text+0xf, past the section's end, has an address")
	}
}

// Every address of every code section resolves as binutils' addr2line -i
// resolves it (the behaviour Lines follows).
func TestLinesMatchAddr2line(t *testing.T) {
	compareAddr2line(t, fixture, nil)
}

// compareAddr2line compares Lines with addr2line -i -f -j SECTION at
// every address of the code sections (or only of funcs, when given).
func compareAddr2line(t *testing.T, path string, funcs []string) {
	t.Helper()
	if _, err := exec.LookPath("addr2line"); err != nil {
		t.Skip("no addr2line (binutils)")
	}
	o := open(t, path)
	checked := 0
	for _, sec := range codeSections(t, path, funcs) {
		var addrs []string
		for off := sec.start; off < sec.end; off++ {
			addrs = append(addrs, fmt.Sprintf("%#x", off))
		}
		out, err := exec.Command("addr2line", append([]string{"-a", "-i", "-f", "-e", path, "-j", sec.name}, addrs...)...).Output()
		if err != nil {
			t.Fatalf("addr2line: %v", err)
		}
		want := parseAddr2line(t, out, len(addrs))
		for i, off := 0, sec.start; off < sec.end; i, off = i+1, off+1 {
			addr, ok := o.Addr(sec.name, off)
			if !ok {
				t.Fatalf("%s+%#x has no address", sec.name, off)
			}
			got, err := o.Lines(addr)
			if err != nil {
				t.Fatalf("%s+%#x: %v", sec.name, off, err)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%s+%#x: %+v, addr2line says %+v", sec.name, off, got, want[i])
			}
			checked++
		}
	}
	t.Logf("%d addresses of %s match addr2line", checked, path)
}

type span struct {
	name       string
	start, end uint64
}

// codeSections lists the functions of path (of funcs, when given) as
// spans of their sections, from readelf. The padding between functions
// is left out: no frame points there, and binutils' answers for it
// depend on how it reads the line table's gaps.
func codeSections(t *testing.T, path string, funcs []string) []span {
	t.Helper()
	out, err := exec.Command("readelf", "-W", "-S", "-s", path).Output()
	if err != nil {
		t.Skipf("readelf: %v", err)
	}
	secs := map[int]string{}
	var spans []span
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(strings.NewReplacer("[ ", "[").Replace(l))
		if len(f) >= 8 && strings.HasPrefix(f[0], "[") && f[2] == "PROGBITS" && strings.Contains(f[1], "text") {
			idx, _ := strconv.Atoi(strings.Trim(f[0], "[]"))
			secs[idx] = f[1]
		}
		if len(f) == 8 && f[3] == "FUNC" {
			idx, err := strconv.Atoi(f[6])
			sec, ok := secs[idx]
			// __pfx_ symbols are the NOPs before a function for call
			// thunks: no code runs there.
			if err != nil || !ok || (funcs != nil && !contains(funcs, f[7])) || strings.HasPrefix(f[7], "__pfx_") {
				continue
			}
			val, _ := strconv.ParseUint(f[1], 16, 64)
			size, _ := strconv.ParseUint(f[2], 10, 64)
			spans = append(spans, span{sec, val, val + size})
		}
	}
	if len(spans) == 0 {
		t.Fatalf("%s: no code found", path)
	}
	return spans
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseAddr2line reads n answers of addr2line -a -i -f: each the address,
// then "func\nfile:line" pairs, innermost first. An address without a line
// ("??:0") has none.
func parseAddr2line(t *testing.T, out []byte, n int) [][]symbol.Source {
	t.Helper()
	var answers [][]symbol.Source
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := 0; i < len(lines); {
		if !strings.HasPrefix(lines[i], "0x") {
			t.Fatalf("addr2line: line %d: %q, want an address", i, lines[i])
		}
		i++
		var answer []symbol.Source
		for ; i+1 < len(lines) && !strings.HasPrefix(lines[i], "0x"); i += 2 {
			loc := lines[i+1]
			if j := strings.Index(loc, " (discriminator"); j >= 0 {
				loc = loc[:j]
			}
			file, line, _ := strings.Cut(loc, ":")
			ln, _ := strconv.Atoi(line)
			if file == "??" {
				continue
			}
			fn := lines[i]
			if fn == "??" {
				fn = ""
			}
			answer = append(answer, symbol.Source{Func: fn, File: file, Line: ln})
		}
		answers = append(answers, answer)
	}
	if len(answers) != n {
		t.Fatalf("addr2line answered %d of %d addresses", len(answers), n)
	}
	return answers
}
