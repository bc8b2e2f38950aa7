// Package harness builds the guest binary of kmodvm fuzz: a user's
// libFuzzer harness (C, LLVMFuzzerTestOneInput driving the module's device)
// compiled with clang's -fsanitize=fuzzer instrumentation and linked,
// statically (the guest's u-root image has no libc), with libFuzzer and
// kmodvm's glue: glue/kcov.c makes the module's kernel coverage
// libFuzzer's, glue/kmsg.c ends the harness on a kernel report with the
// input as libFuzzer's crash (crash.go reads it back), glue/corpus.c sends
// libFuzzer's corpus to the host, glue/ring.c keeps the last inputs where
// the host finds them after a panic (ring.go reads them). It runs on the host, between the module
// build and the image, and knows neither.
package harness

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// glue is kmodvm's C glue, compiled into every harness: KCOV's coverage
// (kcov.c), the kernel log's watch (kmsg.c), the corpus's copy to the
// host (corpus.c), the popen of libFuzzer's crash minimizer (popen.c) and
// the ring of the last inputs (ring.c).
//
//go:embed glue/kcov.c glue/kmsg.c glue/corpus.c glue/popen.c glue/ring.c glue/hints.c
var glue embed.FS

// glueFiles are glue's sources, in the order they are compiled.
var glueFiles = []string{"kcov.c", "kmsg.c", "corpus.c", "popen.c", "ring.c", "hints.c"}

const (
	// DefaultClang is the compiler: bookworm's clang with its libFuzzer
	// (Debian packages clang-16 and libclang-rt-16-dev).
	DefaultClang = "clang-16"
	// UserEntry is what the harness's LLVMFuzzerTestOneInput is renamed to,
	// so that the glue's own wraps it.
	UserEntry = "kmodvm_user_TestOneInput"
	// ModuleEnv names, in the binary's environment, the modules
	// (comma-separated) whose text the glue keeps the coverage of.
	ModuleEnv = "KMODVM_FUZZ_MODULE"
	// NoCmpEnv, in the binary's environment, turns off the comparison
	// operands the glue feeds libFuzzer.
	NoCmpEnv = "KMODVM_FUZZ_CMP=0"
	// CorpusEnv names, in the binary's environment, libFuzzer's corpus
	// directory, which the glue sends to the host at the end.
	CorpusEnv = "KMODVM_FUZZ_CORPUS"
)

// Options says what to build.
type Options struct {
	// Source is the harness: one C file.
	Source string
	// Out is the binary written; its objects are made in a temporary
	// directory beside it.
	Out string
	// Arch is the guest's architecture; its LibFuzzer must be set.
	Arch *arch.Arch
	// Clang is the compiler; empty means DefaultClang.
	Clang string
	// CFlags are added to the harness's compile (-I for the module's uapi
	// headers).
	CFlags []string
}

// CompileError is a harness that clang could not compile or link: its
// diagnostics, as clang printed them.
type CompileError struct {
	Source      string
	Diagnostics string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("harness %s does not build:\n%s", e.Source, strings.TrimRight(e.Diagnostics, "\n"))
}

// Build compiles o.Source and links it into o.Out. A harness that does
// not compile or link is a *CompileError; a missing compiler or runtime
// is an error naming the Debian package.
func Build(ctx context.Context, o Options) error {
	if o.Arch == nil || o.Arch.LibFuzzer == "" {
		return fmt.Errorf("kmodvm fuzz builds no harness for %v", o.Arch)
	}
	clang := o.Clang
	if clang == "" {
		clang = DefaultClang
	}
	if _, err := exec.LookPath(clang); err != nil {
		return fmt.Errorf("%s not found: make deps installs it (Debian packages clang-16, libclang-rt-16-dev)", clang)
	}
	target := "--target=" + o.Arch.Triplet
	rt, err := runtimeLib(ctx, clang, target, o.Arch.LibFuzzer)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(o.Out), ".harness-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	user := filepath.Join(tmp, "harness.o")
	// The harness is instrumented for libFuzzer (its own branches count
	// too); the glue is not, or its loops over every PC would be coverage.
	// The harness's comparisons are not traced: libFuzzer's table of
	// recent compares is small, and the harness's own, made by every
	// input, would push out the module's, which the glue adds only now
	// and then.
	harnessArgs := append([]string{target, "-g", "-O1", "-fsanitize=fuzzer-no-link", "-fno-sanitize-coverage=trace-cmp",
		"-DLLVMFuzzerTestOneInput=" + UserEntry}, o.CFlags...)
	if out, err := clangRun(ctx, clang, append(harnessArgs, "-c", o.Source, "-o", user)...); err != nil {
		return compileFailed(o.Source, out, err)
	}
	glueObjs, err := buildGlue(ctx, clang, target, tmp)
	if err != nil {
		return err
	}
	// -fsanitize=fuzzer would link libFuzzer's interceptors and UBSan's
	// runtime, which find the functions they wrap with dlsym: in a static
	// binary they find none and crash at start. libFuzzer alone needs no
	// interceptor. libFuzzer's popen is the glue's (popen.c): the guest
	// has no shell.
	link := append(append([]string{target, "-static", "-o", o.Out, "-Wl,--wrap=popen,--wrap=pclose", user}, glueObjs...),
		"-Wl,--whole-archive", rt, "-Wl,--no-whole-archive", "-lstdc++", "-lm", "-lpthread")
	if out, err := clangRun(ctx, clang, link...); err != nil {
		if strings.Contains(out, UserEntry) {
			out += "(the harness defines no LLVMFuzzerTestOneInput)\n"
		}
		return compileFailed(o.Source, out, err)
	}
	return nil
}

// buildGlue compiles the glue's sources in dir and returns their objects.
func buildGlue(ctx context.Context, clang, target, dir string) ([]string, error) {
	var objs []string
	for _, name := range glueFiles {
		src, err := glue.ReadFile("glue/" + name)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "kmodvm-"+name)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return nil, err
		}
		obj := strings.TrimSuffix(path, ".c") + ".o"
		if out, err := clangRun(ctx, clang, target, "-g", "-O2", "-Wall", "-Werror", "-c", path, "-o", obj); err != nil {
			return nil, fmt.Errorf("kmodvm's glue %s does not compile: %v\n%s", name, err, out)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// runtimeLib finds libFuzzer's static library in clang's runtime directory.
func runtimeLib(ctx context.Context, clang, target, name string) (string, error) {
	out, err := proc.Command(ctx, clang, target, "-print-runtime-dir").Output()
	if err != nil {
		return "", fmt.Errorf("%s -print-runtime-dir: %v", clang, err)
	}
	lib := filepath.Join(strings.TrimSpace(string(out)), "libclang_rt.fuzzer-"+name+".a")
	if _, err := os.Stat(lib); err != nil {
		return "", fmt.Errorf("libFuzzer's runtime %s is missing: make deps installs it (Debian package libclang-rt-16-dev)", lib)
	}
	return lib, nil
}

// clangRun runs clang and returns what it printed. Only clang's own
// failure (an exit status) is the input's fault: a cancel, or a clang that
// did not start, is returned as *runError.
func clangRun(ctx context.Context, clang string, args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := proc.Command(ctx, clang, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		return buf.String(), &runError{ctx.Err()}
	}
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		return buf.String(), &runError{err}
	}
	return buf.String(), err
}

// runError is a clang that did not run to its verdict.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// compileFailed is err as Build returns it: clang's verdict on the user's
// harness as a *CompileError, anything else as it is.
func compileFailed(src, out string, err error) error {
	if re := (*runError)(nil); errors.As(err, &re) {
		return re.err
	}
	return &CompileError{Source: src, Diagnostics: out}
}
