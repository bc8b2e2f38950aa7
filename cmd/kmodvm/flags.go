package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/spf13/pflag"
)

// defaultGDB is where --gdb without a value puts QEMU's gdb stub: gdb's
// and QEMU's own default port, on loopback only.
const defaultGDB = "127.0.0.1:1234"

// vmFlags are the guest a command boots: the modules and test packages put
// in it, how the modules are built, and the machine. run and shell take
// them.
type vmFlags struct {
	modules, params, tests []string
	makeVars, appendArgs   []string
	accel, kdir, gdb       string
	memory, cpus           int
	debugInfo              bool
}

// vmHelp is the help of the VM flags whose meaning differs between the
// commands: what the modules and tests are for, and which flag names the
// kernel.
type vmHelp struct {
	module, tests string
	// cpus follows the CPU count's default in --cpus's help.
	cpus       string
	kernelFlag string
}

func (f *vmFlags) add(fs *pflag.FlagSet, h vmHelp) {
	fs.StringArrayVarP(&f.modules, "module", "m", nil, h.module)
	fs.StringArrayVarP(&f.params, "param", "p", nil, "module parameter module.name=value (repeatable)")
	fs.StringArrayVarP(&f.tests, "tests", "t", nil, h.tests)
	fs.StringVar(&f.accel, "accel", "auto", "accelerator: auto, kvm or tcg")
	fs.IntVar(&f.memory, "memory", 0, fmt.Sprintf("guest memory in MiB (default %d; 1024 on KASAN kernels)", qemu.DefaultMemoryMiB))
	fs.IntVar(&f.cpus, "cpus", 0, fmt.Sprintf("guest CPUs (default %d%s)", qemu.DefaultCPUs, h.cpus))
	fs.StringArrayVar(&f.appendArgs, "append", nil, "extra kernel command-line parameter (repeatable)")
	fs.StringVar(&f.kdir, "kdir", "", "kernel build tree to build modules against, for --"+h.kernelFlag+" given as a path to a boot image")
	addGDBFlag(fs, &f.gdb)
	addDebugInfoFlag(fs, &f.debugInfo)
	addMakeVarFlag(fs, &f.makeVars)
}

// apply sets the parts of cfg the flags decide; the debugger's prompt,
// which differs between the commands, is the caller's.
func (f *vmFlags) apply(cfg *vmtest.Config) {
	cfg.Modules, cfg.Params, cfg.Tests, cfg.MakeVars = f.modules, f.params, f.tests, f.makeVars
	cfg.Accel, cfg.MemoryMiB, cfg.CPUs, cfg.Append = f.accel, f.memory, f.cpus, f.appendArgs
	cfg.KDir, cfg.GDB, cfg.KernelDebugInfo = f.kdir, f.gdb, f.debugInfo
}

// addGDBFlag adds --gdb[=host:port].
func addGDBFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "gdb", "", "start QEMU's gdb stub on host:port ("+defaultGDB+" when no value is given), stop the guest once the modules are loaded and print the gdb command that attaches")
	fs.Lookup("gdb").NoOptDefVal = defaultGDB
}

// addMakeVarFlag adds --make-var NAME=value.
func addMakeVarFlag(fs *pflag.FlagSet, p *[]string) {
	fs.StringArrayVar(p, "make-var", nil, "make variable NAME=value for the module builds, e.g. a module's own switch or KBUILD_EXTRA_SYMBOLS (repeatable)")
}

// addDebugInfoFlag adds --kernel-debuginfo.
func addDebugInfoFlag(fs *pflag.FlagSet, p *bool) {
	fs.BoolVar(p, "kernel-debuginfo", false, "give the kernel's own frames source lines (and gdb the kernel's symbols): downloads a Debian kernel's -dbg package once into the cache (0.8-1.2 GB; about 630 MB kept per kernel)")
}

// addInjectFaultsFlag adds --inject-faults, --sweep-jobs and
// --scoped-faults.
func addInjectFaultsFlag(fs *pflag.FlagSet, p *bool, jobs, scoped *int) {
	fs.BoolVar(p, "inject-faults", false, "before the tests, load and unload each module with each of its allocations failing in turn (fail-nth), each point a result load/<module>/fail-nth=N judged by what the kernel found (kernels with CONFIG_FAULT_INJECTION: the -debug ones; docs/fault-injection.md)")
	fs.IntVar(jobs, "sweep-jobs", 0, "VMs sweeping one kernel's --inject-faults points at once, each every n-th point (default: the host's CPUs shared among the kernels run at once, each VM taking --cpus of them, at most 4; 1: one VM)")
	fs.IntVar(scoped, "scoped-faults", 0, "while the tests run, make this percent (1-100) of the calls made from the first module's own code fail at random, its dependencies' not (kernels with CONFIG_FAULT_INJECTION_STACKTRACE_FILTER: -debug ones of 6.2 and later on amd64; docs/fault-injection.md)")
}

// defaultKernelsHelp ends a --kernels help line with the matrix an empty
// one runs.
func defaultKernelsHelp() string {
	return "(default " + strings.Join(vmtest.DefaultKernels(), ",") + ")"
}

// reportFlags are the files a command renders its report to.
type reportFlags struct {
	json, junit, markdown, html string
	// lcov and title are merge's alone: run writes its coverage.info
	// into --out, and its HTML report has the default title.
	lcov, title string
}

// add adds --json, --junit, --markdown and --html, with the help of the
// two whose wording differs between the commands.
func (f *reportFlags) add(fs *pflag.FlagSet, jsonHelp, htmlHelp string) {
	fs.StringVar(&f.junit, "junit", "", "write a JUnit XML report to this file")
	fs.StringVar(&f.json, "json", "", jsonHelp)
	fs.StringVar(&f.markdown, "markdown", "", "write the Markdown matrix to this file")
	fs.StringVar(&f.html, "html", "", htmlHelp)
}

// any reports whether the flags name a file.
func (f *reportFlags) any() bool {
	return f.json != "" || f.junit != "" || f.markdown != "" || f.html != "" || f.lcov != ""
}

// write writes rep as JSON to each of always (run's report.json in --out),
// then to each file the flags name, and returns the paths written; one
// file's failure does not keep the others from being written.
func (f *reportFlags) write(rep *report.Report, always ...string) ([]string, error) {
	type target struct {
		path   string
		render func(io.Writer) error
	}
	var targets []target
	for _, p := range always {
		targets = append(targets, target{p, rep.WriteJSON})
	}
	targets = append(targets,
		target{f.json, rep.WriteJSON},
		target{f.junit, rep.WriteJUnit},
		target{f.markdown, rep.WriteMarkdown},
		target{f.lcov, func(w io.Writer) error { return rep.WriteLCOV(w, "kmodvm") }},
		target{f.html, func(w io.Writer) error {
			// The logs are embedded so that the page stands alone as a CI
			// artifact; for merge, the parts' log paths must exist where it
			// runs.
			return rep.WriteHTML(w, report.HTMLOptions{Title: f.title, EmbedLogs: true})
		}})
	var written []string
	var errs []error
	for _, t := range targets {
		if t.path == "" {
			continue
		}
		if err := report.WriteFile(t.path, t.render); err != nil {
			errs = append(errs, err)
			continue
		}
		written = append(written, t.path)
	}
	return written, errors.Join(errs...)
}
