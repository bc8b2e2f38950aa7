package run

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// fuzzJob puts a fuzz job's harness, and the input it replays if any, into
// layers of the kernel's image (kept in its directory, for repro.sh, which
// then replays the input too) and returns the binary the agent runs after
// the tests: plain (no test2json), told which modules' coverage to keep
// (those under test), bounded as a test binary is. n names the layers of
// a later VM's job (runcfg.ArtifactName): the first's stay for repro.sh.
func fuzzJob(f *runcfg.Fuzz, a *arch.Arch, mods []event.Module, m machine, dir string, n int) ([]string, event.TestBinary, error) {
	if f.Arch != a.Name {
		return nil, event.TestBinary{}, fmt.Errorf("the fuzz harness is built for %s, this kernel is %s", f.Arch, a.Name)
	}
	var modules []string
	for _, mod := range mods {
		if !mod.Dep {
			modules = append(modules, mod.Name)
		}
	}
	if len(modules) == 0 {
		return nil, event.TestBinary{}, fmt.Errorf("fuzzing needs a module under test, and none was built for this kernel")
	}
	// The harness's layer is the first VM's: the binary is the same.
	layers := []string{filepath.Join(dir, "initramfs-fuzz.cpio")}
	if n == 0 || !fileExists(layers[0]) {
		if err := initramfs.WriteBinary(layers[0], runcfg.FuzzPath, f.Binary); err != nil {
			return nil, event.TestBinary{}, err
		}
	}
	env := []string{harness.ModuleEnv + "=" + strings.Join(modules, ",")}
	if f.NoCmp {
		env = append(env, harness.NoCmpEnv)
	}
	inputs, args, err := fuzzInputs(f, dir, n)
	if err != nil {
		return nil, event.TestBinary{}, err
	}
	if f.Corpus != "" && f.Replay == "" {
		env = append(env, harness.CorpusEnv+"="+runcfg.FuzzCorpusDir)
	}
	return append(layers, inputs...), event.TestBinary{Name: runcfg.FuzzName, Path: runcfg.FuzzPath, Plain: true, Args: args,
		Env:     env,
		Timeout: event.Duration(m.testTimeout), FaultGrace: event.Duration(m.faultGrace)}, nil
}

// fuzzInputs writes the layer of the harness's inputs, and returns it and
// libFuzzer's arguments: the input replayed, which libFuzzer given a file
// runs once and exits, or the seed corpus, whose directory libFuzzer
// writes the inputs it keeps into. A crash (the glue's abort on a kernel
// report among them) exits 1, not libFuzzer's 77: a binary whose test
// failed and that exits 1 is not blamed again in a test of its own. The
// job's Duration is libFuzzer's -max_total_time, before the user's flags;
// so is -len_control=100, libFuzzer's default, which it turns off when a
// harness has a custom mutator (the glue's hints.c is one): inputs grow
// from short, as without one.
func fuzzInputs(f *runcfg.Fuzz, dir string, n int) (layers, args []string, err error) {
	args = []string{"-error_exitcode=1"}
	if f.Duration > 0 && f.Replay == "" {
		args = append(args, fmt.Sprintf("-max_total_time=%d", max(int(f.Duration.Round(time.Second)/time.Second), 1)))
	}
	if f.Replay == "" {
		args = append(args, "-len_control=100")
	}
	args = append(args, f.Args...)
	switch {
	case f.Replay != "" && isDir(f.Replay):
		// Inputs to run in order, in one process (the glue's ring's).
		layer := runcfg.ArtifactName(filepath.Join(dir, "initramfs-fuzz-input.cpio"), n)
		ents, err := os.ReadDir(f.Replay)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			args = append(args, path.Join(runcfg.FuzzReplayDir, e.Name()))
		}
		return []string{layer}, args, initramfs.WriteDir(layer, runcfg.FuzzReplayDir, f.Replay)
	case f.Replay != "":
		input := path.Join(runcfg.FuzzReplayDir, filepath.Base(f.Replay))
		layer := runcfg.ArtifactName(filepath.Join(dir, "initramfs-fuzz-input.cpio"), n)
		return []string{layer}, append(args, input), initramfs.WriteData(layer, input, f.Replay)
	case f.Corpus != "":
		layer := runcfg.ArtifactName(filepath.Join(dir, "initramfs-fuzz-corpus.cpio"), n)
		return []string{layer}, append(args, runcfg.FuzzCorpusDir), initramfs.WriteDir(layer, runcfg.FuzzCorpusDir, f.Corpus)
	}
	return nil, args, nil
}

// fuzzOutputs keeps what the fuzz job's output in kr carries: the corpus
// the glue sent (into f.Corpus), and returns the kernel report and its
// input, if the glue printed one. A crash of the harness itself is said
// to be one, not a kernel finding.
func fuzzOutputs(kr *report.Kernel, f *runcfg.Fuzz) (harness.KernelCrash, bool, error) {
	err := keepFuzzCorpus(kr, f.Corpus)
	job := fuzzJobOf(kr)
	if job == nil {
		return harness.KernelCrash{}, false, err
	}
	c, ok, cerr := harness.ParseCrash(job.Output)
	if cerr != nil {
		job.Output += "\n--- kmodvm: " + cerr.Error()
	} else if line, crashed := harness.HarnessCrash(job.Output); !ok && crashed {
		job.Output += "\n--- kmodvm: the harness itself crashed (" + line + "): a bug in user space, not a kernel finding"
	}
	return c, ok, errors.Join(err, cerr)
}

// fuzzJobOf is kr's fuzz job, nil if it has none.
func fuzzJobOf(kr *report.Kernel) *report.Test {
	for _, t := range kr.Tests {
		if t.Package == runcfg.FuzzName && t.Name == runcfg.FuzzName {
			return t
		}
	}
	return nil
}

// keepFuzzCorpus writes the corpus the glue sent into dir, each input
// named by its sha1 as libFuzzer names them, and takes it out of the job's
// output, which says how many there were instead.
func keepFuzzCorpus(kr *report.Kernel, dir string) error {
	t := fuzzJobOf(kr)
	if t == nil || dir == "" {
		return nil
	}
	rest, inputs, err := harness.SplitCorpus(t.Output)
	if err != nil || len(inputs) == 0 {
		return err
	}
	for _, in := range inputs {
		sum := sha1.Sum(in)
		p := filepath.Join(dir, hex.EncodeToString(sum[:]))
		if fileExists(p) { // the name is the content's
			continue
		}
		if err := atomicfile.WriteBytes(p, in); err != nil {
			return err
		}
	}
	t.Output = rest + fmt.Sprintf("\n--- kmodvm: the corpus of %d inputs kept in %s", len(inputs), dir)
	return nil
}

// keepFuzzCrash writes the input kept for the kernel report orig into the
// kernel's directory dir as crash-<sha1>: min's, the minimizer's smallest
// (orig itself when it found none), and orig's too as original-<sha1>
// when that is another. It names them in kr's files and the job's output,
// with how (what the minimizer did).
func keepFuzzCrash(kr *report.Kernel, job *report.Test, dir string, orig, min harness.KernelCrash, how string) error {
	name := harness.CrashName(min.Input)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, min.Input, 0o644); err != nil {
		return err
	}
	if kr.Files == nil {
		kr.Files = map[string]string{}
	}
	kr.Files[name] = p
	line := fmt.Sprintf("%s%s (%d bytes", harness.KeptLine, p, len(min.Input))
	if len(min.Input) != len(orig.Input) {
		oname := harness.OriginalPrefix + strings.TrimPrefix(harness.CrashName(orig.Input), harness.CrashPrefix)
		op := filepath.Join(dir, oname)
		if err := os.WriteFile(op, orig.Input, 0o644); err != nil {
			return err
		}
		kr.Files[oname] = op
		line += fmt.Sprintf(", minimized from %d; the original: %s", len(orig.Input), op)
	}
	if how != "" {
		line += "; " + how
	}
	job.Output += fmt.Sprintf("\n--- kmodvm: the kernel's report %q: its input is kept (kmodvm fuzz --replay %s runs it again)\n%s)", orig.Report, p, line)
	return nil
}

// isDir says p is a directory.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
