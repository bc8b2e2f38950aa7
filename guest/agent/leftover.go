package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// leftover lists what a module gone (or that should be) left behind:
// the module, and what it registered that was not there before the
// sweep (s.before). What a point left is its finding alone: the later
// points, which find it there too, are not blamed for it.
func (s *sweeper) leftover(loaded bool) []string {
	var left []string
	if loaded {
		left = append(left, "module "+s.name+" still loaded")
	} else if _, err := os.Stat("/sys/module/" + s.name); err == nil {
		left = append(left, "/sys/module/"+s.name)
	}
	var more []string
	for _, p := range registered() {
		if _, ok := slices.BinarySearch(s.before, p); !ok {
			more = append(more, p)
		}
	}
	s.before = append(s.before, more...)
	slices.Sort(s.before)
	return append(left, more...)
}

// registeredGlobs are where what a module registers shows, one name
// each: a device node (devtmpfs), a class and its devices, a bus's
// devices and drivers (a platform device or driver, a workqueue with
// WQ_SYSFS), a top-level or /proc/driver entry of procfs, a top-level
// debugfs directory. An error path that forgets to undo one leaves it
// there, pointing into the module's freed memory, and the next load of
// the module fails to register it again.
var registeredGlobs = []string{
	"/dev/*",
	"/sys/class/*", "/sys/class/*/*",
	"/sys/bus/*/devices/*", "/sys/bus/*/drivers/*",
	"/proc/*", "/proc/driver/*",
	"/sys/kernel/debug/*",
}

// registered lists registeredGlobs' paths, sorted, but processes'
// /proc entries.
func registered() []string {
	var paths []string
	for _, g := range registeredGlobs {
		m, _ := filepath.Glob(g)
		for _, p := range m {
			if rest, ok := strings.CutPrefix(p, "/proc/"); ok && isPID(rest) {
				continue
			}
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// isPID reports whether name is all digits: /proc's entry of a process.
func isPID(name string) bool {
	return name != "" && strings.Trim(name, "0123456789") == ""
}

// moduleLoaded reports whether the kernel has module name, live or
// coming or going.
func moduleLoaded(name string) bool {
	_, err := os.Stat("/sys/module/" + name + "/initstate")
	return err == nil
}
