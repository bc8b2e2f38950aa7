package run

import (
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// point is a sweep point's test, named as the collector names it.
func point(op string, nth, pass int) *report.Test {
	name := op + "/m/fail-nth=" + strconv.Itoa(nth)
	if pass > 1 {
		name += "/pass=" + strconv.Itoa(pass)
	}
	return &report.Test{Package: report.PointPackage, Name: name, Status: report.Pass,
		Fault: &report.FaultPoint{Op: op, Module: "m", Nth: nth, Injected: true}}
}

func names(ts []*report.Test) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return strings.Join(out, " ")
}

// The points of a sweep split between two VMs read, once merged, as one
// VM's: load's first pass, its later passes, then unload's, in order,
// where the first point stood, the tests after them; the KUnit suites
// the share's VM logged are left out.
func TestSweepSharesMergeInOneVMsOrder(t *testing.T) {
	kr := &report.Kernel{Status: report.Pass, Files: map[string]string{}, Note: pvhResetNote,
		Tests: []*report.Test{point("load", 1, 1), point("load", 3, 1), point("load", 3, 2), point("unload", 1, 1),
			{Package: "mmapdrv", Name: "TestMmap", Status: report.Pass}}}
	leak := report.Finding{Kind: "kmemleak", Title: "memory leak in m_init", Test: "inject-faults: load/m/fail-nth=4"}
	share := &report.Kernel{Status: report.Fail, Error: "a test failed", Files: map[string]string{"console.reboot1.log": "/x"},
		Note:     pvhResetNote + " The sweep's share 2 stopped.",
		Boot:     &report.Boot{Status: report.Pass, Snapshot: "restored"},
		Findings: []report.Finding{leak},
		Tests: []*report.Test{point("load", 2, 1), point("load", 4, 1), point("load", 2, 2), point("load", 3, 2), point("load", 4, 2), point("unload", 2, 1),
			// A KUnit module's suite, run as the share loaded it outside its
			// points: not the run's.
			{Package: "kernel/kunit/m_checks", Name: "fits", Status: report.Pass}}}
	share.Tests[1].Status, share.Tests[1].Findings = report.Fail, []int{0}
	mergeShare(kr, share, 2)
	sortPoints(kr)
	want := "load/m/fail-nth=1 load/m/fail-nth=2 load/m/fail-nth=3 load/m/fail-nth=4 " +
		"load/m/fail-nth=2/pass=2 load/m/fail-nth=3/pass=2 load/m/fail-nth=3/pass=2/vm=2 load/m/fail-nth=4/pass=2 " +
		"unload/m/fail-nth=1 unload/m/fail-nth=2 TestMmap"
	if got := names(kr.Tests); got != want {
		t.Errorf("merged tests:\n got %s\nwant %s", got, want)
	}
	if kr.Status != report.Fail || len(kr.SweepVMs) != 1 || len(kr.Reboots) != 0 || kr.Files["console.reboot1.log"] != "/x" {
		t.Errorf("merged kernel: status %s, %d sweep VMs, %d reboots, files %v", kr.Status, len(kr.SweepVMs), len(kr.Reboots), kr.Files)
	}
	p4 := kr.Tests[3]
	if len(p4.Findings) != 1 || kr.Findings[p4.Findings[0]].Title != leak.Title || p4.AfterReboot {
		t.Errorf("point 4 after the merge: findings %v of %v, after reboot %v", p4.Findings, kr.Findings, p4.AfterReboot)
	}
	if want := pvhResetNote + " The sweep's share 2 stopped."; kr.Note != want {
		t.Errorf("kernel note %q, want %q", kr.Note, want)
	}
	if !strings.Contains(kr.Error, "in a sweep VM: a test failed") {
		t.Errorf("kernel error %q does not say the sweep VM's", kr.Error)
	}
	// No stacks: one unknown site for each operation, with all its points.
	sites := kr.FaultSites()
	if len(sites) != 2 || len(sites[0].Points) != 8 || sites[0].Worst != report.Fail || len(sites[1].Points) != 2 {
		t.Errorf("failure sites: %+v", sites)
	}
}

func TestPassOf(t *testing.T) {
	for name, want := range map[string]int{"load/m/fail-nth=3": 1, "load/m/fail-nth=3/pass=2": 2, "unload/m/fail-nth=12/pass=4": 4, "load/m/fail-nth=3/pass=3/vm=2": 3} {
		if got := passOf(&report.Test{Name: name}); got != want {
			t.Errorf("passOf(%q) = %d, want %d", name, got, want)
		}
	}
}

// A VM that ends beside others ends only its own tests in the live view
// (vmtest.Run's subtests); alone, it ends the kernel's open ones with it.
func TestVMEndedBesideOthersEndsItsOwnTests(t *testing.T) {
	vm := &report.Kernel{Selector: "6.1-debug", Name: "k", Findings: []report.Finding{{Title: "leak"}},
		Tests: []*report.Test{point("load", 2, 1), point("load", 4, 1)}}
	vm.Tests[1].Findings = []int{0}
	for _, c := range []struct {
		shares int
		want   string
	}{{1, "vm"}, {2, "load/m/fail-nth=2:0 load/m/fail-nth=4:1"}} {
		var got []string
		r := &runner{hooks: Hooks{Test: func(sel, name string, lt collect.Live) {
			switch {
			case sel != "6.1-debug" || name != "k":
				t.Errorf("the hook heard of %s %s", sel, name)
			case lt.VM != nil:
				got = append(got, "vm")
			default:
				got = append(got, lt.Name+":"+strconv.Itoa(len(lt.Findings)))
			}
		}}}
		(&kernelRun{r: r, shares: c.shares}).vmEnded(vm)
		if strings.Join(got, " ") != c.want {
			t.Errorf("%d VMs: the hook heard %v, want %s", c.shares, got, c.want)
		}
	}
}
