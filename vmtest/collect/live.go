package collect

import "github.com/kmodvm/kmodvm/vmtest/report"

// Live is a guest test's start, or its end (End set) with its verdict as
// known then, for the subtests of vmtest.Run.
type Live struct {
	Package, Name string
	End           *report.Test
	Findings      []report.Finding
	// VM, alone, says that a VM of the kernel ended, with its report: the
	// tests it cut short end with it.
	VM *report.Kernel
}

// liveEnd is tr's end as known when the guest reported it: the agent
// forwards the kernel log before a test's end, so the findings logged
// during the test are in. (Those only the console shows, and the
// attribution of records that arrive later, wait for the kernel's report.)
// Allowed findings are among them, and do not fail the test.
func (c *Collector) liveEnd(tr *testRun) Live {
	t := *tr.t
	lt := Live{Package: t.Package, Name: t.Name, End: &t}
	failed := false
	for _, tf := range c.findings {
		if tf.f.Kind.IsBug() && !c.kernelOwns(tf) && c.testAt(tf.mono) == tr {
			f := reportFinding(tf.f)
			c.allow.Mark(&f)
			lt.Findings = append(lt.Findings, f)
			failed = failed || f.Allowed == nil
		}
	}
	if failed && (t.Status == report.Pass || t.Status == report.Skip) {
		t.Status = report.Fail
	}
	return lt
}
