package vmtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// build builds every module for k and returns the .ko files, and with
// Coverage the builds gcov's data is read against.
func (r *runner) build(ctx context.Context, k *kernel.Kernel, kr *report.Kernel, dir string) ([]symbol.Module, []gcovBuild, bool) {
	if len(r.cfg.Modules) == 0 {
		return nil, nil, true
	}
	r.step(kr.Selector, k.Name, PhaseBuild, "")
	start := time.Now()
	defer func() { kr.Timing.Build = time.Since(start).Seconds() }()
	tc, err := r.toolchains.For(ctx, k)
	if err != nil {
		kr.Error = "toolchain: " + err.Error()
		if errors.Is(err, toolchain.ErrNeedRoot) {
			kr.Build = &report.Build{Status: report.Error, Error: err.Error()}
		}
		return nil, nil, false
	}
	kr.Build = &report.Build{Status: report.Pass, Toolchain: tc.String(), Log: filepath.Join(dir, "build.log")}
	kr.Files["build.log"] = kr.Build.Log
	var logs []byte
	var kos []symbol.Module
	var gcov []gcovBuild
	var makeArgs []string
	if r.cfg.W1 {
		makeArgs = append(makeArgs, "W=1")
	}
	makeArgs = append(makeArgs, r.cfg.MakeVars...)
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
			Coverage: r.cfg.Coverage, CacheDir: cachedir.Layout{Root: r.cfg.cacheDir()}.Builds()})
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
		return nil, nil, false
	case report.Error:
		kr.Error = "build: " + kr.Build.Error
		return nil, nil, false
	}
	return kos, gcov, true
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
