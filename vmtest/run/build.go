package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// build builds every module for the kernel into run.built, and with
// Coverage the builds gcov's data is read against into run.gcov; false if
// the kernel can go no further (its report says why).
func (run *kernelRun) build(ctx context.Context) bool {
	r, k, kr, dir := run.r, run.k, run.entry, run.dir
	if len(r.cfg.Modules) == 0 {
		return true
	}
	run.step(runcfg.PhaseBuild, "")
	start := time.Now()
	defer func() { kr.Timing.Build = time.Since(start).Seconds() }()
	tc, err := r.toolchains.For(ctx, k)
	if err != nil {
		kr.Error = "toolchain: " + err.Error()
		if errors.Is(err, toolchain.ErrNeedRoot) {
			kr.Build = &report.Build{Status: report.Error, Error: err.Error()}
		}
		return false
	}
	kr.Build = &report.Build{Status: report.Pass, Toolchain: tc.String(), Log: filepath.Join(dir, runcfg.BuildLog)}
	kr.Files[runcfg.BuildLog] = kr.Build.Log
	var logs []byte
	var kos []symbol.Module
	var gcov []gcovBuild
	var makeArgs []string
	if r.cfg.W1 {
		makeArgs = append(makeArgs, "W=1")
	}
	makeArgs = append(makeArgs, r.cfg.MakeVars...)
	if r.cfg.Fuzz != nil {
		// The module's code reports its coverage to the fuzzer; the
		// kernel's (no KCOV_INSTRUMENT_ALL) stays quiet.
		makeArgs = append(makeArgs, "KCOV_INSTRUMENT=y")
	}
	for i, m := range r.cfg.Modules {
		if !k.Profile().KUnit {
			if only, any := kunitSuites(m); only {
				kr.Note = strings.TrimSpace(kr.Note + " " + m + " holds only KUnit suites and this kernel has no KUnit (CONFIG_KUNIT): not built, not loaded.")
				continue
			} else if any {
				kr.Note = strings.TrimSpace(kr.Note + " This kernel has no KUnit (CONFIG_KUNIT): the KUnit suites in " + m + " do not run.")
			}
		}
		res, err := kbuild.Build(ctx, k, tc, kbuild.Options{Source: m, Out: filepath.Join(dir, "build", fmt.Sprint(i)), MakeArgs: makeArgs, Werror: r.cfg.Werror,
			Coverage: r.cfg.Coverage, CacheDir: cachedir.Layout{Root: r.cfg.CacheRoot()}.Builds()})
		if res != nil {
			logs = append(logs, res.Log...)
			kr.Build.Warnings = append(kr.Build.Warnings, diags(res.Warnings, m)...)
			kr.Build.Errors = append(kr.Build.Errors, diags(res.Errors, m)...)
			for _, mod := range res.Modules {
				kos = append(kos, symbol.Module{Path: mod.Path, BuildDir: res.BuildDir, Source: m})
			}
			if err == nil && r.cfg.Coverage {
				gcov = append(gcov, gcovBuild{buildDir: res.BuildDir, workDir: res.WorkDir, source: m, notes: res.Notes, tc: tc})
			}
		}
		if err != nil {
			kr.Build.Status, kr.Build.Error = report.Fail, err.Error()
			if !errors.Is(err, kbuild.ErrBuild) {
				kr.Build.Status = report.Error
			}
			if ctx.Err() != nil {
				kr.Build.Status, kr.Build.Error = report.Error, "interrupted"
			}
		}
	}
	if err := os.WriteFile(kr.Build.Log, logs, 0o644); err != nil {
		kr.Build.Status, kr.Build.Error = report.Error, err.Error()
	}
	switch kr.Build.Status {
	case report.Fail:
		kr.Status, kr.Error = report.Fail, kr.Build.Error
		return false
	case report.Error:
		kr.Error = "build: " + kr.Build.Error
		return false
	}
	run.built, run.gcov = kos, gcov
	return true
}

func diags(ds []kbuild.Diagnostic, src string) []report.Diagnostic {
	var out []report.Diagnostic
	for _, d := range ds {
		file := d.File
		if !filepath.IsAbs(file) && file != "modpost" {
			file = filepath.Join(src, file)
		}
		out = append(out, report.Diagnostic{File: file, Line: d.Line, Col: d.Col, Severity: d.Severity, Message: d.Message})
	}
	return out
}

var (
	kunitSuiteRe = regexp.MustCompile(`(?m)^\s*kunit_test_suites?\(`)
	moduleInitRe = regexp.MustCompile(`(?m)^\s*(?:module_init|module_.*_driver)\(`)
)

// kunitSuites reports whether the module directory dir defines KUnit
// suites (kunit_test_suite) anywhere in its tree, and whether it is only a
// KUnit test module: suites in its top directory and no module_init there.
// On a kernel without KUnit such a module can neither build nor do anything.
func kunitSuites(dir string) (only, any bool) {
	top, init := false, false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".c") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		suites := kunitSuiteRe.Match(b)
		any = any || suites
		if filepath.Dir(p) == filepath.Clean(dir) {
			top = top || suites
			init = init || moduleInitRe.Match(b)
		}
		return nil
	})
	return top && !init, any
}
