package collect

import "github.com/kmodvm/kmodvm/vmtest/report"

// recordings are the real runs replayed. Each is one kernel's events as its
// guest sent them; a new one is a directory and a row.
var recordings = []recording{
	{
		// The bundled mmapdrv suite on Debian's stock 6.1.0-57-amd64,
		// which passed: the module's load taints the kernel (notes, not
		// failures), one test skips itself. The guest powered off after
		// the agent's done; the runner then ends the tests still open,
		// none here, as crashed.
		dir: "6.1-pass", vmEnd: report.Crash, boot: report.Pass, status: report.Pass,
		counts:  report.Counts{Pass: 115, Skip: 1},
		modules: []string{"mmapdrv pass pass"},
		tests: map[string]report.Status{
			"mmapdrv: TestIoctlNumbersMatchCHeader":      report.Skip,
			"mmapdrv: TestBadBufsizeRefused":             report.Pass,
			"mmapdrv: TestBadBufsizeRefused/bufsize=abc": report.Pass,
		},
		findings: []wantFinding{
			{kind: report.KindTaint, title: "mmapdrv: loading out-of-tree module taints kernel", step: "load mmapdrv"},
			{kind: report.KindTaint, title: "mmapdrv: module verification failed: signature and/or required key missing - tainting kernel", step: "load mmapdrv"},
		},
	},
}
