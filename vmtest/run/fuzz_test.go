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
	"github.com/kmodvm/kmodvm/vmtest/report"
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
	input := filepath.Join(t.TempDir(), "crash-0123")
	if err := os.WriteFile(input, []byte("the input"), 0o644); err != nil {
		t.Fatal(err)
	}
	modEnv := "KMODVM_FUZZ_MODULE=mmapdrv,mmapdrv_kunit"
	for _, c := range []struct {
		name, arch string
		mods       []event.Module
		noCmp      bool
		replay     string
		env        []string
		err        string
	}{
		{"ok", a.Name, []event.Module{dep, drv, kunit}, false, "", []string{modEnv}, ""},
		{"no comparison operands", a.Name, []event.Module{dep, drv, kunit}, true, "", []string{modEnv, "KMODVM_FUZZ_CMP=0"}, ""},
		{"replay", a.Name, []event.Module{drv, kunit}, false, input, []string{modEnv}, ""},
		{"other arch", "kmodvm-other", []event.Module{drv}, false, "", nil, "built for kmodvm-other"},
		{"no module", a.Name, []event.Module{dep}, false, "", nil, "needs a module under test"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := &runcfg.Fuzz{Binary: bin, Arch: c.arch, Args: []string{"-max_total_time=60"}, NoCmp: c.noCmp, Replay: c.replay}
			layers, tb, err := fuzzJob(f, a, c.mods, m, dir)
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
			b, err := os.ReadFile(layers[0])
			if err != nil || !bytes.Contains(b, []byte("fuzz/harness")) || !bytes.Contains(b, []byte("\x7fELF the harness")) {
				t.Errorf("layer %s (%v) lacks the harness", layers[0], err)
			}
			checkReplay(t, c.replay, layers, tb.Args)
		})
	}
}

// checkReplay checks the replayed input's layer and argument: the input
// under its own name in the replay directory, libFuzzer's last argument;
// none without replay.
func checkReplay(t *testing.T, replay string, layers, args []string) {
	t.Helper()
	if replay == "" {
		if len(layers) != 1 || len(args) != 1 {
			t.Errorf("layers %q, args %q: want the harness's layer and the flags only", layers, args)
		}
		return
	}
	want := "/fuzz/replay/crash-0123"
	if len(layers) != 2 || len(args) != 2 || args[1] != want {
		t.Fatalf("layers %q, args %q: want the input's layer and %s last", layers, args, want)
	}
	b, err := os.ReadFile(layers[1])
	if err != nil || !bytes.Contains(b, []byte(strings.TrimPrefix(want, "/"))) || !bytes.Contains(b, []byte("the input")) {
		t.Errorf("layer %s (%v) lacks the input", layers[1], err)
	}
}

// TestKeepFuzzCrash: the input the glue printed with a kernel report is
// kept in the kernel's directory as crash-<sha1>, named in the job's
// output and the kernel's files; a crash of the harness is told apart.
func TestKeepFuzzCrash(t *testing.T) {
	const crashName = "crash-a9993e364706816aba3e25717850c26c9cd0d89d" // sha1("abc")
	for _, c := range []struct {
		name, out, file, note string
		err                   bool
	}{
		{name: "kernel report", file: crashName, note: "is kept as",
			out: "kmodvm-fuzz: kernel report: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]\nkmodvm-fuzz: input YWJj\n==1== ERROR: libFuzzer: deadly signal\n"},
		{name: "harness crash", note: "the harness itself crashed (ERROR: libFuzzer: deadly signal): a bug in user space, not a kernel finding",
			out: "==1== ERROR: libFuzzer: deadly signal\n"},
		{name: "bad input line", err: true, note: "the harness's input line",
			out: "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input #\n"},
		{name: "no crash", out: "Done 9 runs in 1 second(s)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			job := &report.Test{Package: "fuzz", Name: "fuzz", Output: c.out}
			kr := &report.Kernel{Tests: []*report.Test{{Package: "a", Name: "b"}, job}}
			if err := keepFuzzCrash(kr, dir); (err != nil) != c.err {
				t.Fatalf("err = %v, want an error %v", err, c.err)
			}
			if !strings.Contains(job.Output, c.note) || (c.note == "" && job.Output != c.out) {
				t.Errorf("output %q, want the note %q", job.Output, c.note)
			}
			if c.file == "" {
				if len(kr.Files) != 0 {
					t.Errorf("files %v, want none", kr.Files)
				}
				return
			}
			p := filepath.Join(dir, c.file)
			if b, err := os.ReadFile(p); err != nil || string(b) != "abc" || kr.Files[c.file] != p || !strings.Contains(job.Output, p) {
				t.Errorf("%s: %q, %v; files %v; output %q", p, b, err, kr.Files, job.Output)
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
