package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// validate checks what can be checked of c before any work starts.
func validate(c *runcfg.Config) error {
	if len(c.Tests) == 0 && len(c.Modules) == 0 && c.Shell == nil {
		return &runcfg.ErrConfig{Msg: "nothing to run: give at least one module or test package"}
	}
	if c.Interactive() && len(c.Selectors()) != 1 {
		return &runcfg.ErrConfig{Msg: "a shell or a debugger needs exactly one kernel"}
	}
	if c.ScopeFaults < 0 || c.ScopeFaults > 100 {
		return &runcfg.ErrConfig{Msg: fmt.Sprintf("scoped faults: %d%% of the module's calls, want 1 to 100", c.ScopeFaults)}
	}
	for _, d := range append(append([]string{}, c.Modules...), c.Tests...) {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			return &runcfg.ErrConfig{Msg: fmt.Sprintf("%s: not a directory", d)}
		}
	}
	for _, m := range c.Modules {
		ok := false
		for _, f := range []string{"Kbuild", "Makefile"} {
			if _, err := os.Stat(filepath.Join(m, f)); err == nil {
				ok = true
			}
		}
		if !ok {
			return &runcfg.ErrConfig{Msg: fmt.Sprintf("module %s has no Kbuild or Makefile", m)}
		}
	}
	for _, v := range c.MakeVars {
		if err := kbuild.CheckMakeVar(v); err != nil {
			return &runcfg.ErrConfig{Msg: err.Error()}
		}
	}
	for _, p := range c.Params {
		mod, kv, ok := strings.Cut(p, ".")
		if !ok || mod == "" || !strings.Contains(kv, "=") || strings.HasPrefix(kv, "=") {
			return &runcfg.ErrConfig{Msg: fmt.Sprintf("module parameter %q: want module.name=value", p)}
		}
	}
	for _, s := range c.Selectors() {
		if _, err := kernel.ParseSelector(s); err != nil {
			return &runcfg.ErrConfig{Msg: err.Error()}
		}
	}
	if _, err := qemu.ParseAccel(c.Accel); err != nil {
		return &runcfg.ErrConfig{Msg: err.Error()}
	}
	if err := c.Allow.Check(); err != nil {
		return &runcfg.ErrConfig{Msg: err.Error()}
	}
	return nil
}
