package collect

import (
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// leakReport is one reading of /sys/kernel/debug/kmemleak by the agent.
type leakReport struct {
	stage   string
	text    string
	mono    int64             // when it was read
	symbols map[string]uint64 // the module functions it names, "func [module]"
}

var (
	leakObjectRe = regexp.MustCompile(`unreferenced object (0x[0-9a-f]+) \(size (\d+)\)`)
	// "comm "insmod", pid 73, jiffies 4294893311 (age 17.240s)"; 6.1's
	// stable releases and kernels from 6.7 on print no age.
	leakAgeRe     = regexp.MustCompile(`\(age (\d+)\.(\d{3})s\)`)
	leakJiffiesRe = regexp.MustCompile(`, jiffies (\d+)`)
)

// leakFindings turns the kmemleak reports into findings, one per object
// (kmemleak lists an object in every read until cleared). Each object's
// bare addresses are placed in the module instances loaded when it was
// allocated (history.place), and the object is attributed by that time:
// an object a module's init allocated is that module's load's, whoever
// loaded it (a test reloading the module too); else the test or step
// running then, if the time is sure to within the kernel's tick to lie
// in it; else, with a module under test in its backtrace, the module's
// unload (still unreferenced when it went away). Only objects allocated
// before the first module under test was loaded, or of unknown age and
// none of the modules', are the kernel's own.
func (c *Collector) leakFindings() {
	seen := map[string]bool{}
	for _, lr := range c.leaks {
		for _, f := range dmesg.Scan([]byte(lr.text)) {
			if f.Kind != dmesg.KindMemoryLeak {
				continue
			}
			obj := leakObjectRe.FindStringSubmatch(f.Report)
			if obj == nil || seen[obj[1]] {
				continue
			}
			seen[obj[1]] = true
			size, _ := strconv.ParseUint(obj[2], 10, 64)
			c.addLeak(f, lr, size)
		}
	}
}

// addLeak attributes one leaked object of size bytes, of reading lr.
func (c *Collector) addLeak(f dmesg.Finding, lr leakReport, size uint64) {
	alloc, tick := c.allocated(f.Report, lr)
	rf := reportFinding(f)
	c.allow.Mark(&rf)
	rf.Time = 0 // not a kernel log record: its time is not the leak's
	rf.Bytes = size
	c.history.place(&rf, alloc)
	c.history.replace(&rf, lr.symbols, alloc, lr.mono)
	mod := c.leakModule(rf.Frames)
	if mod != "" {
		rf.Module = mod
	}
	// kmemleak counts time in ticks: the allocation lies within one of
	// its estimate.
	lo, hi := max(alloc-tick, 1), alloc+tick
	if alloc == 0 {
		lo, hi = 0, 0
	}
	idx := len(c.kernel.Findings)
	tr, step := c.testSpanning(lo, hi), c.steps.at(lo)
	if tr == nil || tr.t.Fault != nil {
		tr = c.leakPoint(f.Report, tr, lo, hi)
	}
	if step != c.steps.at(hi) {
		step = ""
	}
	switch {
	case mod != "" && inModuleInit(rf.Frames) && (tr == nil || tr.t.Fault == nil):
		rf.Step = "load " + mod
	case mod == "" && (alloc == 0 || c.steps.kernelOwn(lo)):
		rf.Owner = report.OwnerKernel
	case tr != nil:
		rf.Test = tr.t.Package + ": " + tr.t.Name
		tr.t.Findings = append(tr.t.Findings, idx)
		if rf.Allowed == nil && (tr.t.Status == report.Pass || tr.t.Status == report.Skip) {
			tr.t.Status = report.Fail
			tr.t.Output += "\n--- kmodvm: kmemleak found " + rf.Title + ", allocated during this test"
		}
	case step != "":
		rf.Step = step
	case mod != "":
		// Still unreferenced when the module went away.
		rf.Step = "unload " + mod
	}
	c.kernel.Findings = append(c.kernel.Findings, rf)
}

// leakPoint returns the sweep point a leaked object of report rep,
// allocated from guest time lo to hi, was allocated in: the one whose
// jiffies hold the object's; else spanning, the point spanning that
// time, if any; else the one most of that time overlaps. The jiffies
// come first: the time, mapped from them, is good to a tick only where
// the kernel's ticks keep time, which under emulation they do not.
func (c *Collector) leakPoint(rep string, spanning *testRun, lo, hi int64) *testRun {
	if m := leakJiffiesRe.FindStringSubmatch(rep); m != nil {
		if j, err := strconv.ParseUint(m[1], 10, 64); err == nil {
			if tr := c.pointInTick(j); tr != nil {
				return tr
			}
		}
	}
	if spanning != nil {
		return spanning
	}
	return c.pointAt(lo, hi)
}

// testSpanning returns the innermost test running from guest time lo to
// hi, or nil.
func (c *Collector) testSpanning(lo, hi int64) *testRun {
	tr := c.testAt(lo)
	if tr == nil || tr == c.testAt(hi) {
		return tr
	}
	var best *testRun
	for _, t := range c.order {
		if t.start <= lo && (!t.ended || hi <= t.end) && (best == nil || t.start >= best.start) {
			best = t
		}
	}
	return best
}

// inModuleInit reports whether a backtrace is of a module's init: the
// kernel's do_one_initcall called from do_init_module.
func inModuleInit(frames []report.Frame) bool {
	for i, fr := range frames {
		if fr.Func == "do_one_initcall" && i+1 < len(frames) && frames[i+1].Func == "do_init_module" {
			return true
		}
	}
	return false
}

// leakModule returns the module under test whose code a leak's backtrace
// passes through (by name, or placed in one of its instances), or "".
func (c *Collector) leakModule(frames []report.Frame) string {
	for _, fr := range frames {
		if fr.Module == "" {
			continue
		}
		for _, m := range c.kernel.Modules {
			if !m.Dep && moddep.Name(fr.Module) == moddep.Name(m.Name) {
				return m.Name
			}
		}
	}
	return ""
}

// allocated returns when the object of a kmemleak report was allocated,
// on the guest's monotonic clock, and how far that may be off: its age
// before the reading, or its allocation's jiffies mapped by the readings
// of jiffies, both good to a tick; 0 if unknown.
func (c *Collector) allocated(rep string, lr leakReport) (mono, tick int64) {
	tick = int64(time.Second / 100) // the longest of Kconfig's ticks
	if hz := c.jiffies.hz(); hz > 0 {
		tick = int64(float64(time.Second) / hz)
	}
	if age, ok := leakAge(rep); ok && lr.mono > int64(age) {
		return lr.mono - int64(age), tick
	}
	m := leakJiffiesRe.FindStringSubmatch(rep)
	if m == nil {
		return 0, 0
	}
	j, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, 0
	}
	return max(c.jiffies.mono(j), 0), tick
}

// leakAge reads how long before the report the object was allocated.
func leakAge(rep string) (time.Duration, bool) {
	m := leakAgeRe.FindStringSubmatch(rep)
	if m == nil {
		return 0, false
	}
	s, _ := strconv.Atoi(m[1])
	ms, _ := strconv.Atoi(m[2])
	return time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond, true
}

// noteLeaks keeps a kmemleak reading for finish; its time is that of
// the jiffies read with it, if any (the event was sent after).
func (c *Collector) noteLeaks(ev event.Event) {
	mono := ev.Mono
	if ev.Jiffies != nil {
		mono = ev.Jiffies.Mono
	}
	c.leaks = append(c.leaks, leakReport{stage: ev.Stage, text: ev.Msg, mono: mono, symbols: ev.Symbols})
}

// jiffiesClock maps the kernel's jiffies to the guest's monotonic clock
// from the agent's readings of both.
type jiffiesClock struct{ samples []event.Jiffies }

func (jc *jiffiesClock) note(j *event.Jiffies) {
	if j != nil && j.Mono > 0 {
		jc.samples = append(jc.samples, *j)
	}
}

// hzChoices are the tick rates Linux's Kconfig offers (HZ_100 ...
// HZ_1000): a measured rate near one is that one.
var hzChoices = []float64{100, 250, 300, 1000}

// hz is the kernel's tick rate, from the two readings farthest apart; 0
// with fewer than two or no time between them.
func (jc *jiffiesClock) hz() float64 {
	if len(jc.samples) < 2 {
		return 0
	}
	first, last := jc.samples[0], jc.samples[0]
	for _, s := range jc.samples {
		if s.Mono < first.Mono {
			first = s
		}
		if s.Mono > last.Mono {
			last = s
		}
	}
	dt := float64(last.Mono-first.Mono) / 1e9
	if dt <= 0 || last.Jiffies <= first.Jiffies {
		return 0
	}
	rate := float64(last.Jiffies-first.Jiffies) / dt
	for _, hz := range hzChoices {
		if math.Abs(rate-hz) < hz/10 {
			return hz
		}
	}
	return math.Round(rate)
}

// mono returns the guest time of jiffies j, counted from the reading
// nearest to it in ticks (under emulation jiffies drift from the guest's
// clock, by more than a sweep's point lasts over a sweep); 0 if the
// clock is unknown.
func (jc *jiffiesClock) mono(j uint64) int64 {
	hz := jc.hz()
	if hz == 0 {
		return 0
	}
	best := jc.samples[0]
	for _, s := range jc.samples {
		if absTicks(s.Jiffies, j) < absTicks(best.Jiffies, j) {
			best = s
		}
	}
	ticks := float64(int64(j - best.Jiffies))
	return best.Mono + int64(ticks*1e9/hz)
}

func absTicks(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
