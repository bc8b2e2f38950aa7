package run

import (
	"context"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// debugInfo gets the kernel's debug information when the run asked for it
// (Config.KernelDebugInfo): the kernel's frames in findings then get
// source lines, gdb the kernel's symbols and the hang diagnosis a real
// System.map. Failing to get it costs only the source lines: the kernel
// still runs, and its report says why they are missing.
func (run *kernelRun) debugInfo(ctx context.Context) {
	k, kr := run.k, run.entry
	if !run.r.cfg.KernelDebugInfo {
		return
	}
	start := time.Now()
	d, err := run.r.fetcher.DebugInfo(ctx, k, symbol.HasDebugInfo)
	kr.Timing.Fetch += time.Since(start).Seconds()
	if err != nil {
		kr.Note = joinNote(kr.Note, "kernel debug info: "+err.Error())
		return
	}
	k.DebugInfo = d
	if k.SystemMap == "" && d.SystemMap != "" {
		k.SystemMap = d.SystemMap
	}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
