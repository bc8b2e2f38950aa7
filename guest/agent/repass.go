package agent

import (
	"slices"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
)

// A load's count of injectable calls moves by a call or a few from one
// load to the next (a vmalloc may or may not need a new vmap_area, by
// how the free areas lie; kmemleak's silent allocation for each object
// may fall on either side of a call), so one pass over the points may
// skip one of the module's own allocations. The points around those
// that hit the module are run again, pass after pass, until passes stop
// finding sites of the module's that the ones before did not.

// maxPasses bounds the passes over the module's points; windowMargin
// widens their window on each side; quietPasses is how many passes in a
// row must find no new site to end them. One quiet pass is not enough:
// under that jitter a pass over the window meets each site only about
// two times in three, and on 6.1-debug a second pass that met sweepmod's
// first and third allocations again, but not the second, ended a sweep
// that never failed the second (the leak it is there to name).
const (
	maxPasses    = 5
	windowMargin = 4
	quietPasses  = 2
)

// hit is a point whose failure hit the module's code, at its site: its
// first frame there as the kernel printed it.
type hit = event.Hit

// repass runs op's points around those that hit the module again, as
// passes 2, 3, ..., while passes find new sites. A VM given a share of
// the points (FaultSweep.Shares) runs every point of the window around
// its own hits, not its share of them: a module's sites often lie a
// fixed number of calls apart (sweepmod's two), so that one VM's share
// holds all of them, and a count that moved by one put the skipped
// site among the points of a VM that never saw the module.
func (s *sweeper) repass(op string, calls int, before event.PassState) {
	passes(s.hits, before, func(pass, n int) ([]hit, bool) {
		before := len(s.hits)
		ok := s.broken == "" && s.point(&event.Point{Op: op, Module: s.name, Nth: n, Calls: calls, Pass: pass})
		return s.hits[before:], ok && s.broken == ""
	})
}

// passes runs the later passes over the window around first, the hits
// so far, with point, which runs point n of a pass and returns its hits
// and whether the sweep can go on. After a VM that died in point After
// of pass Pass (resumed), they go on after that point, counting the
// quiet passes from none; a point a VM died in is not run again.
func passes(first []hit, resumed event.PassState, point func(pass, n int) ([]hit, bool)) {
	seen := map[string]bool{}
	lo, hi := 0, 0
	note := func(hits []hit) (fresh bool) {
		for _, h := range hits {
			fresh = fresh || !seen[h.Site]
			seen[h.Site] = true
			if lo == 0 || h.N < lo {
				lo = h.N
			}
			hi = max(hi, h.N)
		}
		return fresh
	}
	if !note(first) {
		return
	}
	quiet := 0
	for pass := max(2, resumed.Pass); pass <= maxPasses && quiet < quietPasses; pass++ {
		var found []hit
		for n := max(lo-windowMargin, 1); n <= hi+windowMargin; n++ {
			if (pass == resumed.Pass && n <= resumed.After) || slices.Contains(resumed.Killed, n) {
				continue
			}
			hits, ok := point(pass, n)
			found = append(found, hits...)
			if !ok {
				return
			}
		}
		quiet++
		if note(found) {
			quiet = 0
		}
	}
}

// moduleSite returns the first frame of module name in the stack of an
// injected failure's report, as the kernel printed it, or "".
func moduleSite(log, name string) string {
	report, ok := injectedReport(log)
	if !ok {
		return ""
	}
	for _, line := range strings.Split(report, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, " ["+name+"]") && !strings.HasPrefix(line, "?") {
			return line
		}
	}
	return ""
}

// injectedReport returns the kernel's report of an injected failure in
// log, from its first line on, and whether log has one (a failure made
// with __GFP_NOWARN is silent).
func injectedReport(log string) (string, bool) {
	i := strings.Index(log, "FAULT_INJECTION: forcing a failure")
	if i < 0 {
		return "", false
	}
	return log[i:], true
}
