package harness

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// needClang skips a test on a machine without the compiler, which make
// deps installs.
// glueSources writes the named glue sources (glue/<name>) into dir and
// returns their paths, for the tests that build part of the glue on the
// host.
func glueSources(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	var paths []string
	for _, name := range names {
		b, err := glue.ReadFile("glue/" + name)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(dir, name))
		if err := os.WriteFile(paths[len(paths)-1], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func needClang(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(DefaultClang); err != nil {
		t.Skipf("%s not installed (make deps installs clang-16 and libclang-rt-16-dev): %v", DefaultClang, err)
	}
}

func host(t *testing.T) *arch.Arch {
	t.Helper()
	a, err := arch.Lookup(arch.Default)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestBuild builds the tiny harness and checks what the guest needs of the
// binary: static, the glue's entry point wrapping the user's, the extra
// counters in the section libFuzzer reads.
func TestBuild(t *testing.T) {
	needClang(t)
	out := filepath.Join(t.TempDir(), "fuzz")
	if err := Build(context.Background(), Options{Source: "testdata/tiny.c", Out: out, Arch: host(t)}); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an interpreter: not static", out)
		}
	}
	sec := f.Section("__libfuzzer_extra_counters")
	if sec == nil || sec.Size < 1<<16 {
		t.Fatalf("section __libfuzzer_extra_counters = %+v: want the glue's counters", sec)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	// The glue's comparison operands go to libFuzzer's hooks, weak in the
	// glue: they must be libFuzzer's, not left at zero.
	want := map[string]bool{"LLVMFuzzerTestOneInput": false, UserEntry: false, "kmodvm_counters": false,
		"__sanitizer_cov_trace_cmp4": false, "__sanitizer_cov_trace_cmp8": false, "__wrap_popen": false}
	for _, s := range syms {
		if _, ok := want[s.Name]; ok && s.Section != elf.SHN_UNDEF {
			want[s.Name] = true
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("%s not defined in the binary", name)
		}
	}
}

// TestGlueStarts runs a built harness on the host: the glue refuses to
// fuzz without the module's name, then (named) without the module, saying
// why, before libFuzzer starts. A harness that fuzzed blind would look fine and
// find nothing.
func TestGlueStarts(t *testing.T) {
	needClang(t)
	out := filepath.Join(t.TempDir(), "fuzz")
	if err := Build(context.Background(), Options{Source: "testdata/tiny.c", Out: out, Arch: host(t)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ env, want string }{
		{"", "KMODVM_FUZZ_MODULE is not set"},
		{ModuleEnv + "=kmodvm_no_such_module", "/sys/module/kmodvm_no_such_module/sections"},
	} {
		cmd := exec.Command(out, "-runs=1")
		cmd.Env = append(os.Environ(), c.env)
		if c.env == "" {
			cmd.Env = os.Environ()
		}
		cmd.Dir = t.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit status 2; stderr:\n%s", c.env, err, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: stderr lacks %q:\n%s", c.env, c.want, stderr.String())
		}
	}
}

func TestCompileError(t *testing.T) {
	needClang(t)
	for _, c := range []struct{ src, want string }{
		{"testdata/syntax.c", "syntax.c:7:"},
		{"testdata/noentry.c", "defines no LLVMFuzzerTestOneInput"},
	} {
		out := filepath.Join(t.TempDir(), "fuzz")
		err := Build(context.Background(), Options{Source: c.src, Out: out, Arch: host(t)})
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(ce.Diagnostics, c.want) || !strings.Contains(err.Error(), c.src) {
			t.Errorf("%s: %v, want a CompileError naming it with %q", c.src, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a binary was written", c.src)
		}
	}
}

// TestNoFuzzArch: an architecture without LibFuzzer is refused before
// any compiler runs.
func TestNoFuzzArch(t *testing.T) {
	for _, a := range arch.All() {
		err := Build(context.Background(), Options{Source: "testdata/tiny.c", Out: filepath.Join(t.TempDir(), "f"), Arch: a})
		if (a.LibFuzzer == "") != (err != nil && strings.Contains(err.Error(), "builds no harness")) {
			t.Errorf("%s (LibFuzzer %q): %v", a.Name, a.LibFuzzer, err)
		}
	}
}
