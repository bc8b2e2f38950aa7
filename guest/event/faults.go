package event

import "strconv"

// FaultPoint reports one point of a fault-injection sweep
// (RunConfig.InjectFaults): Point says which; Start, Mono, Err and Errno
// are the operation's as on ModuleLoad; Msg is what the kernel logged
// while it ran (the injected failure's line and the failed call's
// stack); Jiffies, on both, the kernel's ticks read then (a point
// begins in a tick after the one the point before ended in). A point's
// event comes twice: with Point.Begun before it is armed (a VM that dies
// now died in it), and when it is done.
const FaultPoint Type = "fault_point"

// The operations a sweep makes fail.
const (
	OpLoad   = "load"
	OpUnload = "unload"
)

// Point is one run of a module's load or unload with its N-th injectable
// call failing.
type Point struct {
	Op     string `json:"op"` // OpLoad, OpUnload
	Module string `json:"module"`
	Nth    int    `json:"nth"`
	// Pass, from 2 on, numbers a pass over the points whose failures hit
	// the module's own code, made again (a load's count of calls can
	// move by a call or two, so that one pass skips a site); 0 is the
	// sweep's first.
	Pass int `json:"pass,omitempty"`
	// Calls is how many injectable calls the operation made with
	// nothing failed, the sweep's length.
	Calls int  `json:"calls,omitempty"`
	Begun bool `json:"begun,omitempty"`
	// Injected: the operation met its Nth call, which failed; a point
	// that was not ends the sweep (the operation made fewer calls).
	Injected bool `json:"injected,omitempty"`
	// Loaded: the module was there after the operation, a load that
	// succeeded in spite of the failure or an unload that failed.
	Loaded bool `json:"loaded,omitempty"`
	// Tests: the test binaries ran on the instance the load left, as
	// binaries named PointBinary.
	Tests bool `json:"tests,omitempty"`
	// TestedBy names the point (Name) whose instance the tests ran on
	// instead of this one's: its failure hit the module at the same
	// site (the same call in the module's code), so the module went on
	// from there the same way. One run of the suite per site, not per
	// point: a module's call that the kernel absorbed failures under
	// (misc_register's sysfs and uevent allocations) is met by a dozen
	// points of a sweep, each a minute of tests on a debug kernel.
	TestedBy string `json:"tested_by,omitempty"`
	// Site is the first frame of the module's own code in the stack of
	// the call that failed, as the kernel printed it
	// ("mymod_init+0x8b/0x1000 [mymod]"); "" when the failure hit no code
	// of the module's.
	Site string `json:"site,omitempty"`
	// Leftover is what a failed load left behind: the module still
	// loaded, /sys/module/<name>, /dev entries that were not there
	// before the sweep. Each is a finding of the point.
	Leftover []string `json:"leftover,omitempty"`
}

// Name is the point's name in reports: "load/mymod/fail-nth=7", and
// "load/mymod/fail-nth=7/pass=2" on a later pass.
func (p *Point) Name() string {
	name := p.Op + "/" + p.Module + "/fail-nth=" + strconv.Itoa(p.Nth)
	if p.Pass > 1 {
		name += "/pass=" + strconv.Itoa(p.Pass)
	}
	return name
}

// PointBinary is the name a test binary runs under on the instance a
// point's load left: "mmapdrv.test@load/mmapdrv/fail-nth=7".
func PointBinary(binary string, p *Point) string { return binary + "@" + p.Name() }

// FaultSweep asks the agent to sweep the injectable calls of each module
// under test's load and unload, once the module loaded as it is (a
// module that cannot load gets no sweep), before the tests.
type FaultSweep struct {
	// From is, by "op/module" (OpLoad+"/"+name), the first point to run:
	// a reboot after a point that crashed or hung resumes after it.
	From map[string]int `json:"from,omitempty"`
	// Done lists the operations ("op/module") a VM before swept to their
	// end: they are not swept again.
	Done []string `json:"done,omitempty"`
	// Passes is, by "op/module", where a VM before this one left the
	// later passes over the module's sites (a VM that died in a point):
	// the passes go on from there, not from nothing.
	Passes map[string]PassState `json:"passes,omitempty"`
	// Tested is, by site (Point.Site), the point whose instance the
	// tests ran on in a VM before this one: they do not run again for
	// that site.
	Tested map[string]string `json:"tested,omitempty"`
	// MaxPoints bounds each operation's points (0: DefaultMaxPoints).
	MaxPoints int `json:"max_points,omitempty"`
	// Tests runs the test binaries on an instance whose load succeeded
	// although the failure was injected in the module's own code (its
	// init swallowed it), where the failure may show later.
	Tests bool `json:"tests,omitempty"`
	// Shares, above 1, splits the points among that many VMs sweeping at
	// once: this one runs the N with N-1 = Share modulo Shares on the
	// first pass, and the whole window around its own hits on the later
	// ones (the agent's repass). A stride, not a range: the module's own sites lie together
	// (its init's calls come after the loader's), and their points are
	// the dear ones (the tests run on an instance a swallowed failure
	// left), so a stride spreads them over the VMs; and no VM needs the
	// count of calls before it starts.
	Shares int `json:"shares,omitempty"`
	Share  int `json:"share,omitempty"`
	// Only: the VM sweeps and ends (a leak check after the sweep, no
	// tests): another VM of the kernel runs them.
	Only bool `json:"only,omitempty"`
}

// PassState is what the VMs before knew of one operation's passes.
type PassState struct {
	// Hits are the points whose failure hit the module's code, of every
	// pass: the later passes' window is the span of them all.
	Hits []Hit `json:"hits,omitempty"`
	// Pass and After: the VM died in point After of pass Pass (2 on),
	// which goes on after it; 0 when it died in the first.
	Pass  int `json:"pass,omitempty"`
	After int `json:"after,omitempty"`
	// Killed are the points (N) VMs died in, on any pass: the later
	// passes do not run them again, each a fault grace and a reboot.
	Killed []int `json:"killed,omitempty"`
}

// Hit is a point whose failure hit the module's code: its N and site.
type Hit struct {
	N    int    `json:"n"`
	Site string `json:"site"`
}

// Runs reports whether the VM given sw runs point n (see Shares).
func (sw *FaultSweep) Runs(n int) bool {
	return sw.Shares <= 1 || (n-1)%sw.Shares == sw.Share
}

// Step is the distance between the points the VM runs.
func (sw *FaultSweep) Step() int { return max(sw.Shares, 1) }

// FirstFrom is the first point from n on the VM runs.
func (sw *FaultSweep) FirstFrom(n int) int {
	n = max(n, 1)
	if sw.Shares <= 1 {
		return n
	}
	return n + ((sw.Share-(n-1))%sw.Shares+sw.Shares)%sw.Shares
}

// DefaultMaxPoints bounds a sweep whose MaxPoints is 0: a load of a
// module makes some hundred injectable calls, most of them the loader's.
const DefaultMaxPoints = 2000

// SweepKey is FaultSweep.From's key of an operation on a module.
func SweepKey(op, module string) string { return op + "/" + module }

// FaultScope asks the agent to make the injectable calls made from one
// module's code fail at random while the tests run (issue 22's scoped
// mode): the kernel's stack-trace filter holds the failures to calls
// with a frame in the module and none in its dependencies, whoever
// makes them (the tests' tasks, the kernel's own). It needs
// CONFIG_FAULT_INJECTION_STACKTRACE_FILTER; without it the agent says
// so and nothing fails.
type FaultScope struct {
	// Module names the module whose calls fail; "" is the first module
	// under test.
	Module string `json:"module,omitempty"`
	// Probability is the percent of its calls that fail, 1 to 100;
	// Times bounds the failures (0: none).
	Probability int `json:"probability"`
	Times       int `json:"times,omitempty"`
}
