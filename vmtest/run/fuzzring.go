package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// lastInputsFile is the artifact that keeps a fuzz VM's last inputs, as
// the glue's ring held them when the VM ended (harness.EncodeSeq, oldest
// first).
const lastInputsFile = "fuzz-last-inputs.bin"

// openRing opens the VM's shared memory again, so that its bytes outlive
// the VM's own removal of the file: the glue's ring of the last inputs is
// its tail. Nil when the run does not fuzz or the VM shares none.
func (run *kernelRun) openRing(vm *qemu.VM) *os.File {
	if run.r.cfg.Fuzz == nil || vm.Share() == nil {
		return nil
	}
	f, err := os.Open(vm.Share().Name())
	if err != nil {
		return nil
	}
	return f
}

// keepRing reads the glue's ring from the ended VM v's shared memory and
// keeps the inputs it held in v's artifacts (lastInputsFile), named in
// its report's files. A restored VM's writes are in QEMU's private
// pages: what the VM read of them before the host ended it (res's
// ShareTail, after a panic or a hang); else share, the file, which holds
// them when the VM mapped it shared (one booted to make the snapshot).
// A VM that ended by itself after the harness died (keepAgentRing) left
// neither.
func (run *kernelRun) keepRing(res *qemu.Result, share *os.File, v vmPlan) {
	if share != nil {
		defer share.Close()
	}
	mem := res.ShareTail
	if mem == nil && share != nil {
		if fi, err := share.Stat(); err == nil && fi.Size() >= harness.RingBytes {
			mem = make([]byte, harness.RingBytes)
			if _, err := share.ReadAt(mem, fi.Size()-harness.RingBytes); err != nil {
				mem = nil
			}
		}
	}
	if res.ShareTailError != "" {
		run.r.logf("%s: the fuzz inputs' ring: %s", run.entry.Name, res.ShareTailError)
	}
	run.keepInputs(mem, v)
}

// keepAgentRing keeps, from the ended VM v's events (col), the ring the
// agent sent when the fuzz harness died by a signal or did not die (an
// Oops in its system call, which the kernel survived: the VM then ends
// by itself, its private pages with it), unless keepRing kept one.
func (run *kernelRun) keepAgentRing(col *collect.Collector, v vmPlan) {
	if run.r.cfg.Fuzz == nil {
		return
	}
	if _, kept := v.entry.Files[runcfg.ArtifactName(lastInputsFile, v.n)]; kept {
		return
	}
	mem, err := col.FuzzRing()
	if err != nil {
		run.r.logf("%s: %v", run.entry.Name, err)
	}
	run.keepInputs(mem, v)
}

// keepInputs keeps the inputs the ring mem held (nil: none) as v's
// lastInputsFile.
func (run *kernelRun) keepInputs(mem []byte, v vmPlan) {
	ins, err := harness.ParseRing(mem)
	if err != nil {
		run.r.logf("%s: %v", run.entry.Name, err)
	}
	if len(ins) == 0 {
		return
	}
	var seq [][]byte
	for _, in := range ins {
		seq = append(seq, in.Data)
	}
	name := runcfg.ArtifactName(lastInputsFile, v.n)
	p := filepath.Join(run.dir, name)
	if err := os.WriteFile(p, harness.EncodeSeq(seq), 0o644); err != nil {
		run.r.logf("%s: %v", run.entry.Name, err)
		return
	}
	if v.entry.Files == nil {
		v.entry.Files = map[string]string{}
	}
	v.entry.Files[name] = p
}

// lastInputs are the inputs the glue's ring held when vm, a fuzz VM
// before any merge, ended, oldest first. The kernel's first VM's report
// may hold a reboot's too (the tests a crash left): its own is the one
// without a reboot's number.
func lastInputs(vm *report.Kernel) [][]byte {
	p, ok := vm.Files[lastInputsFile]
	for name, q := range vm.Files {
		if !ok && strings.HasPrefix(name, strings.TrimSuffix(lastInputsFile, ".bin")) {
			p, ok = q, true
		}
	}
	if !ok {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	ins, _ := harness.DecodeSeq(b)
	return ins
}

// jobFinding is the title of the first finding (not the kernel's own)
// printed during vm's fuzz job vjob; ok is false when there is none.
func jobFinding(vm *report.Kernel, vjob *report.Test) (string, bool) {
	for _, i := range vjob.Findings {
		if i < len(vm.Findings) && !vm.Findings[i].KernelOwn() {
			return vm.Findings[i].Title, true
		}
	}
	return "", false
}

// fromRing finds the input behind a finding that ended the fuzz job vjob
// of VM vm without the glue's input line (a panic or hang took the
// guest): from the inputs its ring held, newest first, each alone in a
// fresh VM, the first after which the kernel reports the same title;
// if none does, all in order in one. It returns the input as the glue
// would have (the finding's title as its report), or, when none brings
// it back, keeps the sequence as crash-seq-<sha1> in the kernel's
// directory (named in e's files) and returns ok false. It says what it
// did in vjob's output. A title fr's kernel found before is returned
// as found, without replays, to be counted.
func (run *kernelRun) fromRing(ctx context.Context, fr *fuzzRun, e, vm *report.Kernel, vjob *report.Test) (harness.KernelCrash, bool) {
	title, found := jobFinding(vm, vjob)
	ins := lastInputs(vm)
	if !found || len(ins) == 0 {
		return harness.KernelCrash{}, false
	}
	if fr.known(title) {
		// Counted by the caller, not kept again: no replays.
		return harness.KernelCrash{Report: title, Key: title}, true
	}
	say := func(format string, a ...any) { vjob.Output += "\n--- kmodvm: " + fmt.Sprintf(format, a...) }
	vjob.Output += fmt.Sprintf("\n%s%q, before the harness printed its input: replaying the last %d inputs, newest first, each alone in a fresh VM", harness.RingLine, title, len(ins))
	for i := len(ins) - 1; i >= 0; i-- {
		if _, ok := run.budget.bootable(); !ok {
			say("no time left before the run's deadline to replay more")
			break
		}
		again, console := run.replayInputs(ctx, ins[i:i+1], title)
		if again {
			say("input %d of the %d, oldest first (%d bytes), brings the report back alone (its replay's console: %s)", i+1, len(ins), len(ins[i]), console)
			return harness.KernelCrash{Report: title, Key: title, Input: ins[i]}, true
		}
	}
	if _, ok := run.budget.bootable(); ok && len(ins) > 1 {
		again, console := run.replayInputs(ctx, ins, title)
		say("none alone brought the report back; all %d in order %s (its console: %s)", len(ins), map[bool]string{true: "did", false: "did not"}[again], console)
	}
	seq := harness.EncodeSeq(ins)
	name := harness.SeqName(seq)
	p := filepath.Join(run.dir, name)
	if err := os.WriteFile(p, seq, 0o644); err != nil {
		say("the last inputs: %v", err)
		return harness.KernelCrash{}, false
	}
	e.Files[name] = p
	vjob.Output += fmt.Sprintf("\n%s%s (the last %d inputs before %q, in order: each input's length, 4 bytes little endian, then its bytes)", harness.SeqKeptLine, p, len(ins), title)
	return harness.KernelCrash{}, false
}

// replayInputs runs the harness on ins, in order, in a fresh VM restored
// from the kernel's snapshot, and says whether the kernel reported title
// there, and the VM's console.
func (run *kernelRun) replayInputs(ctx context.Context, ins [][]byte, title string) (bool, string) {
	f := run.r.cfg.Fuzz
	tmp, err := os.MkdirTemp(run.dir, ".replay-")
	if err != nil {
		return false, ""
	}
	defer os.RemoveAll(tmp)
	replay := tmp
	for i, in := range ins {
		p := filepath.Join(tmp, fmt.Sprintf("%03d-%s", i, harness.CrashName(in)))
		if err := os.WriteFile(p, in, 0o644); err != nil {
			return false, ""
		}
		if len(ins) == 1 {
			replay = p
		}
	}
	g := runcfg.Fuzz{Binary: f.Binary, Arch: f.Arch, NoCmp: f.NoCmp, Replay: replay, Args: f.Args}
	n := run.nextVM()
	vm := run.fuzzVM(ctx, &g, n, run.m, "replaying a finding's last inputs", 0)
	console := runcfg.ArtifactName(runcfg.ConsoleLog, n)
	for _, fd := range vm.Findings {
		if !fd.KernelOwn() && fd.Title == title {
			return true, console
		}
	}
	return false, console
}
