package run

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// hangReport describes what the monitor saw of a hung guest. A CPU's
// instruction pointer that System.map could not name is looked up among
// kr's loaded modules under test (mods): where there is no NMI (arm64) it
// is the one pointer to the spinning code.
func hangReport(res *qemu.Result, kr *report.Kernel, mods []symbol.Module) string {
	var b strings.Builder
	if res.SysRq != "" {
		b.WriteString("Guest's blocked tasks and CPUs (SysRq w, l):\n" + res.SysRq + "\n")
	}
	s := &symbol.Symbolizer{Modules: mods}
	for i, samples := range res.IP {
		places := ipPlaces(s, kr, samples)
		for j, p := range places {
			head := fmt.Sprintf("CPU %d %s: ", i, res.IPRegister)
			if j > 0 {
				head = strings.Repeat(" ", len(head)-len("also ")) + "also "
			}
			if len(samples) > 1 {
				fmt.Fprintf(&b, "%s%s (%d of %d looks)\n", head, p.where, p.n, len(samples))
			} else {
				fmt.Fprintf(&b, "%s%s\n", head, p.where)
			}
		}
	}
	if res.Backtrace != "" {
		b.WriteString("\nGuest backtrace (NMI):\n" + res.Backtrace + "\n")
	}
	if res.Registers != "" {
		b.WriteString("\nRegisters:\n" + res.Registers)
	}
	return b.String()
}

// ipPlace is where a hung CPU was seen, and how many of the looks at it
// saw it there.
type ipPlace struct {
	where string
	n     int
}

// ipPlaces names each sampled instruction pointer of one CPU (System.map's
// name, or a module's from its load address) and groups them by function,
// the most seen first: a CPU spinning in a module is there in most looks,
// and in the kernel's interrupt code in a few.
func ipPlaces(s *symbol.Symbolizer, kr *report.Kernel, samples []qemu.Location) []ipPlace {
	var places []ipPlace
	index := map[string]int{}
	for _, loc := range samples {
		where, key := loc.String(), fmt.Sprintf("%#x", loc.Addr)
		if loc.Func != "" {
			key = loc.Func
		} else {
			fr := report.Frame{Addr: loc.Addr}
			if s.Frame(kr, &fr); fr.Func != "" {
				where, key = fmt.Sprintf("%#x %s", loc.Addr, fr), fr.Func+" "+fr.Module
				if w := fr.Where(); w != "" {
					where += ", " + w
				}
			}
		}
		if i, ok := index[key]; ok {
			places[i].n++
			continue
		}
		index[key] = len(places)
		places = append(places, ipPlace{where: where, n: 1})
	}
	sort.SliceStable(places, func(i, j int) bool { return places[i].n > places[j].n })
	return places
}
