package arch

import (
	"debug/elf"
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// Default is the architecture of a kernel entry whose Arch is empty and of
// a selector that names none: the one place kmodvm says which it is.
const Default = "amd64"

// descriptors make each registered architecture's value. Functions, not
// values: every lookup gets its own copy, so no caller can change what the
// others see.
var descriptors []func() *Arch

// register adds an architecture; each descriptor file registers its own
// from init, so that a new architecture is a new file.
func register(f func() *Arch) { descriptors = append(descriptors, f) }

// All returns every architecture, by name.
func All() []*Arch {
	out := make([]*Arch, 0, len(descriptors))
	for _, f := range descriptors {
		out = append(out, f())
	}
	slices.SortFunc(out, func(a, b *Arch) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names lists the supported architectures, in All's order.
func Names() []string {
	var names []string
	for _, a := range All() {
		names = append(names, a.Name)
	}
	return names
}

// Lookup returns the architecture named name; "" means Default.
func Lookup(name string) (*Arch, error) {
	if name == "" {
		name = Default
	}
	if a := find(func(a *Arch) bool { return a.Name == name }); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("unknown architecture %q (kmodvm supports %s)", name, strings.Join(Names(), ", "))
}

// Must is Lookup for names known to be valid (constants, checked input).
func Must(name string) *Arch {
	a, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return a
}

// ByFlavour returns the architecture of a Debian kernel flavour (one of
// some architecture's Flavours), or nil.
func ByFlavour(flavour string) *Arch {
	return find(func(a *Arch) bool { return slices.Contains(a.Flavours, flavour) })
}

// ByMachine returns the architecture whose ELF objects are of machine m,
// or nil.
func ByMachine(m elf.Machine) *Arch {
	return find(func(a *Arch) bool { return a.ELF.Machine == m })
}

// Host is the Debian name of the build host's architecture, whose programs
// (a kernel's prebuilt build tools, linux-kbuild's) the host runs. On a
// host of no architecture here it is Default's, as kmodvm has always
// assumed: those tools then fail to run, and the build says so.
func Host() string { return hostFor(runtime.GOARCH) }

// hostFor is Host on a host of Go architecture goarch.
func hostFor(goarch string) string {
	if a := find(func(a *Arch) bool { return a.GOARCH == goarch }); a != nil {
		return a.Debian
	}
	return Must(Default).Debian
}

// find returns the first architecture, in All's order, that match accepts.
func find(match func(*Arch) bool) *Arch {
	for _, a := range All() {
		if match(a) {
			return a
		}
	}
	return nil
}
