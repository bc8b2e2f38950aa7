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
// (those under test), bounded as a test binary is.
func fuzzJob(f *runcfg.Fuzz, a *arch.Arch, mods []event.Module, m machine, dir string) ([]string, event.TestBinary, error) {
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
	layers := []string{filepath.Join(dir, "initramfs-fuzz.cpio")}
	if err := initramfs.WriteBinary(layers[0], runcfg.FuzzPath, f.Binary); err != nil {
		return nil, event.TestBinary{}, err
	}
	env := []string{harness.ModuleEnv + "=" + strings.Join(modules, ",")}
	if f.NoCmp {
		env = append(env, harness.NoCmpEnv)
	}
	inputs, args, err := fuzzInputs(f, dir)
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
// failed and that exits 1 is not blamed again in a test of its own.
func fuzzInputs(f *runcfg.Fuzz, dir string) (layers, args []string, err error) {
	args = append([]string{"-error_exitcode=1"}, f.Args...)
	switch {
	case f.Replay != "":
		input := path.Join(runcfg.FuzzReplayDir, filepath.Base(f.Replay))
		layer := filepath.Join(dir, "initramfs-fuzz-input.cpio")
		return []string{layer}, append(args, input), initramfs.WriteData(layer, input, f.Replay)
	case f.Corpus != "":
		layer := filepath.Join(dir, "initramfs-fuzz-corpus.cpio")
		return []string{layer}, append(args, runcfg.FuzzCorpusDir), initramfs.WriteDir(layer, runcfg.FuzzCorpusDir, f.Corpus)
	}
	return nil, args, nil
}

// fuzzOutputs keeps what the fuzz job's output in kr carries: the corpus
// the glue sent (into f.Corpus) and the input of a kernel report (into
// dir).
func fuzzOutputs(kr *report.Kernel, dir string, f *runcfg.Fuzz) error {
	err := keepFuzzCorpus(kr, f.Corpus)
	return errors.Join(err, keepFuzzCrash(kr, dir))
}

// keepFuzzCorpus writes the corpus the glue sent into dir, each input
// named by its sha1 as libFuzzer names them, and takes it out of the job's
// output, which says how many there were instead.
func keepFuzzCorpus(kr *report.Kernel, dir string) error {
	for _, t := range kr.Tests {
		if t.Package != runcfg.FuzzName || t.Name != runcfg.FuzzName || dir == "" {
			continue
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
	}
	return nil
}

// keepFuzzCrash reads the fuzz job's output in kr: the input the glue
// printed with a kernel report is written into the kernel's directory as
// crash-<sha1> and named in the job's output and kr's files; a crash of
// the harness itself is said to be one, not a kernel finding.
func keepFuzzCrash(kr *report.Kernel, dir string) error {
	for _, t := range kr.Tests {
		if t.Package != runcfg.FuzzName || t.Name != runcfg.FuzzName {
			continue
		}
		c, ok, err := harness.ParseCrash(t.Output)
		if err != nil {
			t.Output += "\n--- kmodvm: " + err.Error()
			return err
		}
		if !ok {
			if line, crashed := harness.HarnessCrash(t.Output); crashed {
				t.Output += "\n--- kmodvm: the harness itself crashed (" + line + "): a bug in user space, not a kernel finding"
			}
			continue
		}
		name := harness.CrashName(c.Input)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, c.Input, 0o644); err != nil {
			return err
		}
		if kr.Files == nil {
			kr.Files = map[string]string{}
		}
		kr.Files[name] = p
		t.Output += fmt.Sprintf("\n--- kmodvm: the input before the kernel's report %q is kept as %s (kmodvm fuzz --replay %s runs it again)", c.Report, p, p)
	}
	return nil
}
