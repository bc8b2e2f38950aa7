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
	"github.com/kmodvm/kmodvm/vmtest/harness"
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
	corpus := t.TempDir()
	if err := os.WriteFile(filepath.Join(corpus, "seed1"), []byte("a seed"), 0o644); err != nil {
		t.Fatal(err)
	}
	modEnv := "KMODVM_FUZZ_MODULE=mmapdrv,mmapdrv_kunit"
	for _, c := range []struct {
		name, arch     string
		mods           []event.Module
		noCmp          bool
		replay, corpus string
		env            []string
		// inputs is the last argument and what the inputs' layer holds,
		// if there is one.
		inputs []string
		err    string
	}{
		{name: "ok", arch: a.Name, mods: []event.Module{dep, drv, kunit}, env: []string{modEnv}},
		{name: "no comparison operands", arch: a.Name, mods: []event.Module{dep, drv, kunit}, noCmp: true, env: []string{modEnv, "KMODVM_FUZZ_CMP=0"}},
		{name: "replay", arch: a.Name, mods: []event.Module{drv, kunit}, replay: input, corpus: corpus, env: []string{modEnv},
			inputs: []string{"/fuzz/replay/crash-0123", "fuzz/replay/crash-0123", "the input"}},
		{name: "corpus", arch: a.Name, mods: []event.Module{drv}, corpus: corpus, env: []string{"KMODVM_FUZZ_MODULE=mmapdrv", "KMODVM_FUZZ_CORPUS=/fuzz/corpus"},
			inputs: []string{"/fuzz/corpus", "fuzz/corpus/seed1", "a seed"}},
		{name: "other arch", arch: "kmodvm-other", mods: []event.Module{drv}, err: "built for kmodvm-other"},
		{name: "no module", arch: a.Name, mods: []event.Module{dep}, err: "needs a module under test"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := &runcfg.Fuzz{Binary: bin, Arch: c.arch, Args: []string{"-max_total_time=60"}, NoCmp: c.noCmp, Replay: c.replay, Corpus: c.corpus}
			layers, tb, err := fuzzJob(f, a, c.mods, m, dir, 0)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// libFuzzer's default input length control, which the glue's
			// custom mutator would turn off, given back to fuzzing jobs.
			args := slices.DeleteFunc(slices.Clone(tb.Args), func(a string) bool { return a == "-len_control=100" })
			if (len(args) < len(tb.Args)) != (c.replay == "") {
				t.Errorf("args %q: want -len_control=100 when fuzzing, not in a replay", tb.Args)
			}
			if !tb.Plain || tb.Path != runcfg.FuzzPath || !slices.Equal(tb.Env, c.env) ||
				time.Duration(tb.Timeout) != time.Hour || args[0] != "-error_exitcode=1" || args[1] != "-max_total_time=60" {
				t.Errorf("binary = %+v", tb)
			}
			b, err := os.ReadFile(layers[0])
			if err != nil || !bytes.Contains(b, []byte("fuzz/harness")) || !bytes.Contains(b, []byte("\x7fELF the harness")) {
				t.Errorf("layer %s (%v) lacks the harness", layers[0], err)
			}
			checkInputs(t, c.inputs, layers, args)
		})
	}
}

// checkInputs checks the inputs' layer and argument: want is libFuzzer's
// last argument, then what the layer holds; with no want, neither is
// there.
func checkInputs(t *testing.T, want, layers, args []string) {
	t.Helper()
	if len(want) == 0 {
		if len(layers) != 1 || len(args) != 2 {
			t.Errorf("layers %q, args %q: want the harness's layer and the flags only", layers, args)
		}
		return
	}
	if len(layers) != 2 || len(args) != 3 || args[2] != want[0] {
		t.Fatalf("layers %q, args %q: want the inputs' layer and %s last", layers, args, want[0])
	}
	b, err := os.ReadFile(layers[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want[1:] {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("layer %s lacks %q", layers[1], w)
		}
	}
}

// TestKeepFuzzCorpus: the corpus the glue sent is written into the corpus
// directory, each input named by its sha1, and taken out of the job's
// output.
func TestKeepFuzzCorpus(t *testing.T) {
	dir := t.TempDir()
	job := &report.Test{Package: "fuzz", Name: "fuzz",
		Output: "#1 INITED\nkmodvm-fuzz: corpus YWJj\nkmodvm-fuzz: corpus \nkmodvm-fuzz: sent the corpus: 2 inputs\n"}
	kr := &report.Kernel{Tests: []*report.Test{job}}
	if _, _, err := fuzzOutputs(kr, &runcfg.Fuzz{Corpus: dir}); err != nil {
		t.Fatal(err)
	}
	want := "#1 INITED\nkmodvm-fuzz: sent the corpus: 2 inputs\n\n--- kmodvm: the corpus of 2 inputs kept in " + dir
	if job.Output != want {
		t.Errorf("output %q, want %q", job.Output, want)
	}
	for name, data := range map[string]string{"a9993e364706816aba3e25717850c26c9cd0d89d": "abc", "da39a3ee5e6b4b0d3255bfef95601890afd80709": ""} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != data {
			t.Errorf("%s: %q, %v; want %q", name, b, err, data)
		}
	}
}

// TestFuzzOutputsCrash: the input the glue printed with a kernel report
// is read from the job's output; a crash of the harness is told apart.
func TestFuzzOutputsCrash(t *testing.T) {
	for _, c := range []struct {
		name, out, note string
		input           string
		err             bool
	}{
		{name: "kernel report", input: "abc",
			out: "kmodvm-fuzz: kernel report: BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]\nkmodvm-fuzz: input YWJj\n==1== ERROR: libFuzzer: deadly signal\n"},
		{name: "harness crash", note: "the harness itself crashed (ERROR: libFuzzer: deadly signal): a bug in user space, not a kernel finding",
			out: "==1== ERROR: libFuzzer: deadly signal\n"},
		{name: "bad input line", err: true, note: "the harness's input line",
			out: "kmodvm-fuzz: kernel report: BUG: x\nkmodvm-fuzz: input #\n"},
		{name: "no crash", out: "Done 9 runs in 1 second(s)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			job := &report.Test{Package: "fuzz", Name: "fuzz", Output: c.out}
			kr := &report.Kernel{Tests: []*report.Test{{Package: "a", Name: "b"}, job}}
			got, ok, err := fuzzOutputs(kr, &runcfg.Fuzz{})
			if (err != nil) != c.err || ok != (c.input != "") || string(got.Input) != c.input {
				t.Fatalf("%+v, %v, %v; want input %q, an error %v", got, ok, err, c.input, c.err)
			}
			if !strings.Contains(job.Output, c.note) || (c.note == "" && job.Output != c.out) {
				t.Errorf("output %q, want the note %q", job.Output, c.note)
			}
		})
	}
}

// TestKeepFuzzCrash: the input kept for a kernel report is written into
// the kernel's directory as crash-<sha1>, named in the job's output and
// the kernel's files; a minimized one beside the original, kept as
// original-<sha1>.
func TestKeepFuzzCrash(t *testing.T) {
	orig := harness.KernelCrash{Report: "BUG: x", Input: []byte("abcdef")}
	for _, c := range []struct {
		name  string
		min   string
		files []string
		note  string
	}{
		{name: "not minimized", min: "abcdef", files: []string{"crash-1f8ac10f23c5b5bc1167bda84b833e5c057a77d2"},
			note: "(6 bytes; not minimized: x)"},
		{name: "minimized", min: "abc", files: []string{"crash-a9993e364706816aba3e25717850c26c9cd0d89d", "original-1f8ac10f23c5b5bc1167bda84b833e5c057a77d2"},
			note: "(3 bytes, minimized from 6; the original: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			job := &report.Test{Package: "fuzz", Name: "fuzz"}
			kr := &report.Kernel{Tests: []*report.Test{job}}
			min := orig
			min.Input = []byte(c.min)
			how := ""
			if c.min == "abcdef" {
				how = "not minimized: x"
			}
			if err := keepFuzzCrash(kr, job, dir, orig, min, how); err != nil {
				t.Fatal(err)
			}
			for _, name := range c.files {
				p := filepath.Join(dir, name)
				if _, err := os.Stat(p); err != nil || kr.Files[name] != p {
					t.Errorf("%s: %v; files %v", name, err, kr.Files)
				}
			}
			kept := filepath.Join(dir, c.files[0])
			if len(kr.Files) != len(c.files) || !strings.Contains(job.Output, harness.KeptLine+kept+" "+c.note) ||
				!strings.Contains(job.Output, "--replay "+kept) {
				t.Errorf("files %v; output %q, want %s %s", kr.Files, job.Output, kept, c.note)
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

// TestCheckNeedForeignArch: a stock kernel of an architecture kmodvm builds
// no -debug kernel for is not pointed at a -debug selector that would be
// no such kernel; the error says which architecture's kernels have it.
func TestCheckNeedForeignArch(t *testing.T) {
	r := &runner{}
	stock := &kernel.Spec{Name: "6.1.0-57-powerpc64le", Series: "6.1", Arch: "ppc64el", Config: map[string]string{"CONFIG_GCOV_KERNEL": "n"}}
	err := r.checkNeed(context.Background(), []planned{{spec: stock}}, needGcov)
	var ce *runcfg.ErrConfig
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "6.1.0-57-powerpc64le lacks") ||
		strings.Contains(err.Error(), "--kernels") || !strings.Contains(err.Error(), "for "+arch.Default+" only") {
		t.Errorf("gcov on a ppc64el kernel: %v", err)
	}
}
