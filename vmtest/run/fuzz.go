package run

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// fuzzJob puts a fuzz job's harness into a layer of the kernel's image
// (kept in its directory, for repro.sh) and returns the binary the agent
// runs after the tests: plain (no test2json), told which modules' coverage
// to keep (those under test), bounded as a test binary is.
func fuzzJob(f *runcfg.Fuzz, a *arch.Arch, mods []event.Module, m machine, dir string) (string, event.TestBinary, error) {
	if f.Arch != a.Name {
		return "", event.TestBinary{}, fmt.Errorf("the fuzz harness is built for %s, this kernel is %s", f.Arch, a.Name)
	}
	var modules []string
	for _, mod := range mods {
		if !mod.Dep {
			modules = append(modules, mod.Name)
		}
	}
	if len(modules) == 0 {
		return "", event.TestBinary{}, fmt.Errorf("fuzzing needs a module under test, and none was built for this kernel")
	}
	layer := filepath.Join(dir, "initramfs-fuzz.cpio")
	if err := initramfs.WriteBinary(layer, runcfg.FuzzPath, f.Binary); err != nil {
		return "", event.TestBinary{}, err
	}
	env := []string{harness.ModuleEnv + "=" + strings.Join(modules, ",")}
	if f.NoCmp {
		env = append(env, harness.NoCmpEnv)
	}
	return layer, event.TestBinary{Name: runcfg.FuzzName, Path: runcfg.FuzzPath, Plain: true, Args: f.Args,
		Env:     env,
		Timeout: event.Duration(m.testTimeout), FaultGrace: event.Duration(m.faultGrace)}, nil
}
