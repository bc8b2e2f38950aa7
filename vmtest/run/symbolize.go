package run

import (
	"os"
	"path/filepath"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// symbolize resolves the frames of kr's findings once the VM is done: the
// modules under test through the .ko files the host built (with their
// DWARF, whatever the guest's copy kept), the kernel's own frames through
// a vmlinux with debug info when the kernel has one (a tree kmodvm or the
// user built) or the run fetched one (Debian's -dbg package); and the
// stacks of the calls a fault-injection sweep made fail.
func symbolize(k *kernel.Kernel, kr *report.Kernel, mods []symbol.Module) {
	var stacks [][]report.Frame
	for _, t := range kr.Tests {
		if t.Fault != nil && len(t.Fault.Stack) > 0 {
			stacks = append(stacks, t.Fault.Stack)
		}
	}
	if len(kr.Findings) == 0 && len(stacks) == 0 {
		return
	}
	s := &symbol.Symbolizer{Modules: mods, Vmlinux: debugVmlinux(k), Trees: kernelTrees(k)}
	s.Kernel(kr)
	for _, st := range stacks {
		s.Trace(kr, st)
	}
}

// debugVmlinux is k's vmlinux with DWARF, or "": the debug info fetched
// for the run (Config.KernelDebugInfo), else the kernel's own
// (Kernel.OwnDebugInfo; Kernel.Vmlinux is the image QEMU boots, which may
// be empty or stripped).
func debugVmlinux(k *kernel.Kernel) string {
	if k.DebugInfo != nil {
		return k.DebugInfo.Vmlinux
	}
	if d := k.OwnDebugInfo(symbol.HasDebugInfo); d != nil {
		return d.Vmlinux
	}
	return ""
}

// kernelTrees are the directories the kernel's file names are relative
// to: its build tree, and beside Debian's per-flavour headers the common
// ones their Makefile includes (linux-headers-ABI-common), where the
// headers a module inlines live.
func kernelTrees(k *kernel.Kernel) []string {
	if k.KDir == "" {
		return nil
	}
	trees := []string{k.KDir}
	siblings, _ := filepath.Glob(filepath.Join(filepath.Dir(k.KDir), "linux-headers-*"))
	for _, d := range siblings {
		if info, err := os.Stat(d); err == nil && info.IsDir() && d != k.KDir {
			trees = append(trees, d)
		}
	}
	return trees
}
