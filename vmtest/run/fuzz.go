package run

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
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
	args := f.Args
	if f.Replay != "" {
		// libFuzzer given a file runs that input once and exits.
		input := path.Join(runcfg.FuzzReplayDir, filepath.Base(f.Replay))
		layers = append(layers, filepath.Join(dir, "initramfs-fuzz-input.cpio"))
		if err := initramfs.WriteData(layers[1], input, f.Replay); err != nil {
			return nil, event.TestBinary{}, err
		}
		args = append(append([]string{}, args...), input)
	}
	env := []string{harness.ModuleEnv + "=" + strings.Join(modules, ",")}
	if f.NoCmp {
		env = append(env, harness.NoCmpEnv)
	}
	return layers, event.TestBinary{Name: runcfg.FuzzName, Path: runcfg.FuzzPath, Plain: true, Args: args,
		Env:     env,
		Timeout: event.Duration(m.testTimeout), FaultGrace: event.Duration(m.faultGrace)}, nil
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
