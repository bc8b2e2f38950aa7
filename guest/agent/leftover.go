package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
)

// leftover lists what a module gone (or that should be) left behind:
// the module, and, when its code ran (moduleCodeRan), what it
// registered that was not there before the sweep (s.before). What a
// point left is its finding alone: the later points, which find it
// there too, are not blamed for it.
func (s *sweeper) leftover(loaded, codeRan bool) []string {
	var left []string
	if loaded {
		left = append(left, "module "+s.name+" still loaded")
	} else if _, err := os.Stat("/sys/module/" + s.name); err == nil {
		left = append(left, "/sys/module/"+s.name)
	}
	if !codeRan {
		return left
	}
	more := registeredSince(s.before)
	s.before = append(s.before, more...)
	slices.Sort(s.before)
	return append(left, more...)
}

// registeredSince lists what is registered now that was not in before,
// a sorted list of registered's.
func registeredSince(before []string) []string {
	var more []string
	for _, p := range registered() {
		if _, ok := slices.BinarySearch(before, p); !ok {
			more = append(more, p)
		}
	}
	return more
}

// moduleCodeRan reports whether the module's init (op load) or exit (op
// unload) ran when the failure log reports was injected, so that it
// could have registered something and left it: the injected failure's
// stack holds do_one_initcall (the init's caller, there even when the
// init tail-called the failing function), or, for an unload, the
// failure came before free_module. A failure with no stack (one made
// with __GFP_NOWARN, which fails silently) may have been anywhere.
// Listing what is registered costs 85 ms a point under TCG on
// 6.1-debug, and most of a load's points fail the loader's calls, before
// the init runs.
func moduleCodeRan(op, log string) bool {
	stack, ok := injectedReport(log)
	if !ok {
		return true
	}
	if op == event.OpLoad {
		return strings.Contains(stack, " do_one_initcall+")
	}
	return !strings.Contains(stack, " free_module+")
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
