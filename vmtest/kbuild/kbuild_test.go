package kbuild_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

func toolchainFor(t *testing.T, k *kernel.Kernel) *toolchain.Toolchain {
	t.Helper()
	tcs := &toolchain.Set{Dir: cachedir.Layout{Root: kernel.DefaultCacheDir()}.Toolchains()}
	tc, err := tcs.For(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func TestBuildReportsWarningsWithSourcePaths(t *testing.T) {
	for _, sel := range []string{"6.1", "7.3"} {
		t.Run(sel, func(t *testing.T) {
			k := kerneltest.Get(t, sel)
			out := t.TempDir()
			r, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), kbuild.Options{Source: "testdata/warnmod", Out: out})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Warnings) != 1 || r.Warnings[0].File != "warnmod.c" || r.Warnings[0].Line != 8 || !strings.Contains(r.Warnings[0].Message, "unused variable") {
				t.Errorf("warnings = %+v, want warnmod.c:8 unused variable", r.Warnings)
			}
			if len(r.Modules) != 1 || r.Modules[0].Name != "warnmod" || !strings.HasPrefix(r.Modules[0].Vermagic, k.ABI+" ") {
				t.Errorf("modules = %+v, want warnmod with vermagic %s", r.Modules, k.ABI)
			}
			_, err = kbuild.Build(t.Context(), k, toolchainFor(t, k), kbuild.Options{Source: "testdata/warnmod", Out: out, Werror: true})
			if !errors.Is(err, kbuild.ErrBuild) {
				t.Errorf("with Werror: err = %v, want ErrBuild", err)
			}
		})
	}
}

func TestBuildFailureCarriesTheCompilerError(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	r, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), kbuild.Options{Source: "testdata/errmod", Out: t.TempDir()})
	if !errors.Is(err, kbuild.ErrBuild) {
		t.Fatalf("err = %v, want ErrBuild", err)
	}
	if len(r.Errors) == 0 || r.Errors[0].File != "errmod.c" || !strings.Contains(r.Errors[0].Message, "no_such_function") {
		t.Errorf("errors = %+v, want errmod.c: ... no_such_function", r.Errors)
	}
	if !strings.Contains(err.Error(), "errmod.c:8") {
		t.Errorf("error message does not point at the source: %v", err)
	}
}

func TestBuildRejectsADirectoryWithoutKbuild(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	_, err := kbuild.Build(t.Context(), k, &toolchain.Toolchain{Compiler: "gcc-12"}, kbuild.Options{Source: t.TempDir(), Out: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no Kbuild or Makefile") {
		t.Errorf("err = %v", err)
	}
}

func TestBuildCacheReusesUnchangedBuildsOnly(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	tc := toolchainFor(t, k)
	src := t.TempDir()
	for _, f := range []string{"Kbuild", "warnmod.c"} {
		b, err := os.ReadFile(filepath.Join("testdata/warnmod", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := kbuild.Options{Source: src, Out: t.TempDir(), CacheDir: t.TempDir()}
	first, err := kbuild.Build(t.Context(), k, tc, o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := kbuild.Build(t.Context(), k, tc, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Duration != 0 || !strings.Contains(string(again.Log), "unchanged since a previous build") {
		t.Errorf("second build was not served from the cache (took %v)", again.Duration)
	}
	if len(again.Warnings) != len(first.Warnings) || len(again.Modules) != 1 {
		t.Errorf("cached result differs: %+v vs %+v", again, first)
	}
	if _, err := kbuild.ReadModule(again.Modules[0].Path); err != nil {
		t.Errorf("cached .ko unusable: %v", err)
	}
	// The .ko's debug info names the directory it was compiled in.
	if first.BuildDir == "" || again.BuildDir != first.BuildDir {
		t.Errorf("cached build dir %q, the build's %q", again.BuildDir, first.BuildDir)
	}
	// Any change to the source is a new build.
	f := filepath.Join(src, "warnmod.c")
	b, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(b, []byte("\n/* changed */\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := kbuild.Build(t.Context(), k, tc, o)
	if err != nil {
		t.Fatal(err)
	}
	if third.Duration == 0 {
		t.Error("a changed source was served from the cache")
	}
}

// A Kbuild that includes a file named by a make variable (as
// xtables-addons' does) builds with the variable in MakeArgs, and fails
// without it; the variables kmodvm sets for the kernel are refused.
func TestBuildWithAMakeVariable(t *testing.T) {
	k := kerneltest.Get(t, "6.1")
	top, err := filepath.Abs("testdata/varmod")
	if err != nil {
		t.Fatal(err)
	}
	o := kbuild.Options{Source: "testdata/varmod/mod", Out: t.TempDir()}
	if _, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), o); !errors.Is(err, kbuild.ErrBuild) {
		t.Errorf("without VARMOD_TOP: err = %v, want ErrBuild", err)
	}
	o.MakeArgs = []string{"VARMOD_TOP=" + top}
	r, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), o)
	if err != nil || len(r.Modules) != 1 {
		t.Fatalf("with VARMOD_TOP: %v, modules %+v", err, r)
	}
	for _, v := range []string{"M=/tmp", "ARCH=arm64", "CC=clang", "novalue", "=x"} {
		if kbuild.CheckMakeVar(v) == nil {
			t.Errorf("CheckMakeVar(%q) = nil, want an error", v)
		}
	}
	for _, v := range []string{"VARMOD_TOP=/x", "KBUILD_EXTRA_SYMBOLS=/a/Module.symvers", "CONFIG_FOO=m"} {
		if err := kbuild.CheckMakeVar(v); err != nil {
			t.Errorf("CheckMakeVar(%q) = %v", v, err)
		}
	}
}
