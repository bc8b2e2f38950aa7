package agent

import (
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

func TestModuleSite(t *testing.T) {
	const stack = `FAULT_INJECTION: forcing a failure.
name failslab, interval 1, probability 0, space 0, times 0
Call Trace:
 <TASK>
 dump_stack_lvl+0x5b/0x77
 should_fail.cold+0x5/0xa
 __kmalloc+0x61/0x2c0
 sweepmod_init+0x2f/0x1000 [sweepmod]
 do_one_initcall+0x8f/0x2e0`
	for _, c := range []struct {
		log, name, want string
	}{
		{stack, "sweepmod", "sweepmod_init+0x2f/0x1000 [sweepmod]"},
		{strings.Replace(stack, " __kmalloc", " ? sweepmod_init+0x11/0x1000 [sweepmod]\n __kmalloc", 1), "sweepmod", "sweepmod_init+0x2f/0x1000 [sweepmod]"},
		{stack, "sweep", ""},
		{"sweepmod_init+0x2f/0x1000 [sweepmod]", "sweepmod", ""}, // no injected failure
		{"", "sweepmod", ""},
	} {
		if got := moduleSite(c.log, c.name); got != c.want {
			t.Errorf("moduleSite(%.40q, %q) = %q, want %q", c.log, c.name, got, c.want)
		}
	}
}

func TestPointBinaries(t *testing.T) {
	in := []event.TestBinary{{Name: "a.test", Path: "/t/a.test"}}
	out := pointBinaries(in, &event.Point{Op: event.OpLoad, Module: "m", Nth: 4})
	if out[0].Name != "a.test@load/m/fail-nth=4" || out[0].Path != "/t/a.test" || in[0].Name != "a.test" {
		t.Errorf("got %+v from %+v", out, in)
	}
}

// The load sweep's knobs are syzkaller's but for the stack and sleeping
// page allocations.
func TestLoadSweepKnobs(t *testing.T) {
	want := map[string]string{"failslab/ignore-gfp-wait": "N", "failslab/verbose": "2", "fail_page_alloc/ignore-gfp-wait": "Y",
		"fail_page_alloc/ignore-gfp-highmem": "N", "fail_page_alloc/min-order": "0"}
	for _, k := range loadSweepKnobs() {
		if v, ok := want[k.Path]; ok && v != k.Value {
			t.Errorf("%s=%s, want %s", k.Path, k.Value, v)
		}
	}
}

// The tests run once per module site a swallowed failure hit: a later
// point (of any pass) with the same site names the point that ran them.
func TestClaimTestsOncePerSite(t *testing.T) {
	s := &sweeper{}
	const init0, init1 = "m_init+0xc7/0x1000 [m]", "m_init+0x2f/0x1000 [m]"
	for _, c := range []struct {
		p      event.Point
		site   string
		run    bool
		tested string
	}{
		{event.Point{Op: event.OpLoad, Module: "m", Nth: 263}, init0, true, ""},
		{event.Point{Op: event.OpLoad, Module: "m", Nth: 269}, init0, false, "load/m/fail-nth=263"},
		{event.Point{Op: event.OpLoad, Module: "m", Nth: 40}, init1, true, ""},
		{event.Point{Op: event.OpLoad, Module: "m", Nth: 263, Pass: 2}, init0, false, "load/m/fail-nth=263"},
	} {
		p := c.p
		if run := s.claimTests(&p, c.site); run != c.run || p.Tests != c.run || p.TestedBy != c.tested {
			t.Errorf("point %s at %s: run %v, Tests %v, TestedBy %q; want %v, %q", p.Name(), c.site, run, p.Tests, p.TestedBy, c.run, c.tested)
		}
	}
}
