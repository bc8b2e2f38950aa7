package event

// LoadedModule is a loaded module's place in memory, from /proc/modules,
// /sys/module/<name>/sections and the module's file.
type LoadedModule struct {
	Base uint64 `json:"base"`
	Size uint64 `json:"size"`
	// Sections maps section names (".text", ".data", ".init.text") to
	// their addresses.
	Sections map[string]uint64 `json:"sections,omitempty"`
	// Sizes maps the sections' names to their sizes, read from the
	// module's file when the agent has it (the kernel says only where
	// sections start). A module's init code lies outside Base..Size
	// (kernels from 6.4 place each kind of memory apart): only the
	// sections place an address there.
	Sizes map[string]uint64 `json:"sizes,omitempty"`
}

// Section returns the section holding addr and the address it was loaded
// at. With Sizes, addr must lie in one of the sections; without, in
// Base..Size, and the section is the one loaded nearest below it.
func (m *LoadedModule) Section(addr uint64) (name string, start uint64, ok bool) {
	if m == nil {
		return "", 0, false
	}
	if len(m.Sizes) > 0 {
		for n, at := range m.Sections {
			if size := m.Sizes[n]; size > 0 && addr >= at && addr-at < size {
				return n, at, true
			}
		}
		return "", 0, false
	}
	if addr < m.Base || addr-m.Base >= m.Size {
		return "", 0, false
	}
	// Sections sharing an address (an empty one before .text) are told
	// apart by name, so that the answer never depends on map order.
	name, start = "", m.Base
	for n, at := range m.Sections {
		if at <= addr && at >= start && (at > start || name == "" || n < name) {
			name, start = n, at
		}
	}
	return name, start, true
}

// Contains reports whether addr lies in the module: in one of its
// sections when their sizes are known, else in its core image.
func (m *LoadedModule) Contains(addr uint64) bool {
	_, _, ok := m.Section(addr)
	return ok
}

// Jiffies is one reading of the kernel's tick count (jiffies) and of
// CLOCK_MONOTONIC at the same moment (/proc/timer_list prints both).
type Jiffies struct {
	Jiffies uint64 `json:"jiffies"`
	Mono    int64  `json:"mono"`
}
