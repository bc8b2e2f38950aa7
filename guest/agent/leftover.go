package agent

import (
	"os"
	"slices"
)

// leftover lists what a module gone (or that should be) left behind.
func (s *sweeper) leftover(loaded bool) []string {
	var left []string
	if loaded {
		left = append(left, "module "+s.name+" still loaded")
	} else if _, err := os.Stat("/sys/module/" + s.name); err == nil {
		left = append(left, "/sys/module/"+s.name)
	}
	for _, d := range listDev() {
		if !slices.Contains(s.devs, d) {
			left = append(left, "/dev/"+d)
		}
	}
	return left
}

// listDev lists /dev's top-level names, sorted.
func listDev() []string {
	ents, _ := os.ReadDir("/dev")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// moduleLoaded reports whether the kernel has module name, live or
// coming or going.
func moduleLoaded(name string) bool {
	_, err := os.Stat("/sys/module/" + name + "/initstate")
	return err == nil
}
