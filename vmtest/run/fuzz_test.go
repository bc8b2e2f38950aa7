package run

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

func TestFuzzJob(t *testing.T) {
	a, err := arch.Lookup(arch.Default)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "harness")
	if err := os.WriteFile(bin, []byte("\x7fELF the harness"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := machine{testTimeout: time.Hour, faultGrace: 5 * time.Second}
	dep := event.Module{Name: "dep", Dep: true}
	drv := event.Module{Name: "mmapdrv"}
	kunit := event.Module{Name: "mmapdrv_kunit"}
	modEnv := "KMODVM_FUZZ_MODULE=mmapdrv,mmapdrv_kunit"
	for _, c := range []struct {
		name, arch string
		mods       []event.Module
		noCmp      bool
		env        []string
		err        string
	}{
		{"ok", a.Name, []event.Module{dep, drv, kunit}, false, []string{modEnv}, ""},
		{"no comparison operands", a.Name, []event.Module{dep, drv, kunit}, true, []string{modEnv, "KMODVM_FUZZ_CMP=0"}, ""},
		{"other arch", "kmodvm-other", []event.Module{drv}, false, nil, "built for kmodvm-other"},
		{"no module", a.Name, []event.Module{dep}, false, nil, "needs a module under test"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := &runcfg.Fuzz{Binary: bin, Arch: c.arch, Args: []string{"-max_total_time=60"}, NoCmp: c.noCmp}
			layer, tb, err := fuzzJob(f, a, c.mods, m, dir)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tb.Plain || tb.Path != runcfg.FuzzPath || !slices.Equal(tb.Env, c.env) ||
				time.Duration(tb.Timeout) != time.Hour || tb.Args[0] != "-max_total_time=60" {
				t.Errorf("binary = %+v", tb)
			}
			b, err := os.ReadFile(layer)
			if err != nil || !bytes.Contains(b, []byte("fuzz/harness")) || !bytes.Contains(b, []byte("\x7fELF the harness")) {
				t.Errorf("layer %s (%v) lacks the harness", layer, err)
			}
		})
	}
}

// TestCheckNeedKCOV: a fuzz run naming a kernel whose config is known to
// lack KCOV is a usage error naming it and the kernel that has it.
func TestCheckNeedKCOV(t *testing.T) {
	r := &runner{}
	with := &kernel.Spec{Name: "6.1.192-debug", Series: "6.1", Config: map[string]string{"CONFIG_KCOV": "y"}}
	without := &kernel.Spec{Name: "6.1.192-kcsan", Series: "6.1", Config: map[string]string{"CONFIG_KCOV": "n"}}
	if err := r.checkNeed(context.Background(), []planned{{spec: with}}, needKCOV); err != nil {
		t.Errorf("with KCOV: %v", err)
	}
	err := r.checkNeed(context.Background(), []planned{{spec: with}, {spec: without}}, needKCOV)
	var ce *runcfg.ErrConfig
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "6.1.192-kcsan lacks") || !strings.Contains(err.Error(), "--kernels 6.1-debug") {
		t.Errorf("without KCOV: %v", err)
	}
}
