package agent

import (
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
)

// A load's count of injectable calls can move by a call or two from one
// load to the next (a vmalloc may or may not need a new vmap_area, by
// how the free areas lie), so one pass over the points may skip one of
// the module's own allocations. The points around those that hit the
// module are run again, pass after pass, until a pass finds no site of
// the module's that the ones before did not.

// maxPasses bounds the passes over the module's points; windowMargin
// widens their window on each side.
const (
	maxPasses    = 4
	windowMargin = 4
)

// hit is a point whose failure hit the module's code, at site: its first
// frame there as the kernel printed it.
type hit struct {
	n    int
	site string
}

// repass runs op's points around those that hit the module again, as
// passes 2, 3, ..., while a pass finds a new site. A VM given a share of
// the points (FaultSweep.Shares) runs every point of the window around
// its own hits, not its share of them: a module's sites often lie a
// fixed number of calls apart (sweepmod's two), so that one VM's share
// holds all of them, and a count that moved by one put the skipped
// site among the points of a VM that never saw the module.
func (s *sweeper) repass(op string, calls int) {
	seen := map[string]bool{}
	lo, hi := 0, 0
	note := func(hits []hit) (fresh bool) {
		for _, h := range hits {
			fresh = fresh || !seen[h.site]
			seen[h.site] = true
			if lo == 0 || h.n < lo {
				lo = h.n
			}
			hi = max(hi, h.n)
		}
		return fresh
	}
	if !note(s.hits) {
		return
	}
	for pass := 2; pass <= maxPasses && s.broken == ""; pass++ {
		before := len(s.hits)
		for n := max(lo-windowMargin, 1); n <= hi+windowMargin && s.broken == ""; n++ {
			if !s.point(&event.Point{Op: op, Module: s.name, Nth: n, Calls: calls, Pass: pass}) {
				return
			}
		}
		if !note(s.hits[before:]) {
			return
		}
	}
}

// moduleSite returns the first frame of module name in the stack of an
// injected failure's report, as the kernel printed it, or "".
func moduleSite(log, name string) string {
	i := strings.Index(log, "FAULT_INJECTION: forcing a failure")
	if i < 0 {
		return ""
	}
	for _, line := range strings.Split(log[i:], "\n") {
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, " ["+name+"]") && !strings.HasPrefix(line, "?") {
			return line
		}
	}
	return ""
}
