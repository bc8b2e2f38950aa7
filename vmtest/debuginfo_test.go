package vmtest_test

import (
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// With KernelDebugInfo a stock Debian kernel's own frames get source lines
// from its -dbg package (downloaded once into the cache), as the module's
// frames always do; gdb and the hang diagnosis get its real symbols.
func TestKernelDebugInfoGivesTheKernelsFramesSourceLines(t *testing.T) {
	t.Parallel()
	k := faultRun(t, []string{"6.1"}, "TestWarnDuringPassingTest", func(c *vmtest.Config) {
		c.KernelDebugInfo = true
	}).Kernels[0]
	if strings.Contains(k.Note, "debug info") {
		t.Fatalf("%s: %s", k.Name, k.Note)
	}
	tt := test(t, k, "TestWarnDuringPassingTest")
	var warn *report.Finding
	for _, i := range tt.Findings {
		if k.Findings[i].Kind == "WARNING" {
			warn = &k.Findings[i]
		}
	}
	if warn == nil {
		t.Fatalf("no WARNING finding in %s", tt.Name)
	}
	kernelFrames, resolved := 0, 0
	for _, fr := range warn.Frames {
		if fr.Module != "" || fr.Func == "" || fr.Unreliable {
			continue
		}
		kernelFrames++
		if fr.File != "" && fr.Line > 0 {
			resolved++
			// Relative to the kernel's tree, the way the kernel names them.
			if strings.HasPrefix(fr.File, "/") {
				t.Errorf("%s at %s:%d: want a path relative to the kernel tree", fr.Func, fr.File, fr.Line)
			}
		}
	}
	if kernelFrames == 0 || resolved < kernelFrames/2 {
		t.Errorf("%d of %d kernel frames have source lines, want most\n%s", resolved, kernelFrames, warn.Trace())
	}
	t.Logf("%s", warn.Trace())
	if _, ok := warn.Source(); !ok {
		t.Errorf("the module's own frame lost its source line\n%s", warn.Trace())
	}
}
