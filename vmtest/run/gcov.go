package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// gcovBuild is a module built with gcov profiling, as its coverage is made
// from: the directory it was compiled in (the kernel's gcov data is named
// by it), where its notes (.gcno) are now, the user's directory its
// sources are reported under, and the toolchain whose gcov reads them.
type gcovBuild struct {
	buildDir, workDir, source string
	notes                     []string
	tc                        *toolchain.Toolchain
}

// gcdaDirs returns the directories of the kernel's VMs' gcov data: gcda/,
// gcda.reboot1/, ...
func gcdaDirs(dir string) []string {
	first, _ := filepath.Glob(filepath.Join(dir, runcfg.ArtifactName(runcfg.GcdaDir, 0)))
	rest, _ := filepath.Glob(filepath.Join(dir, runcfg.ArtifactName(runcfg.GcdaDir, 0)+".reboot*"))
	return append(first, rest...)
}

// kernelCoverage turns the gcov data of the kernel's VMs into kr.Coverage and
// the kernel's coverage.info: each .gcda beside its build's .gcno, read by
// the toolchain's gcov, the module's own source files kept (not the
// kernel's headers), the VMs' counts summed.
func kernelCoverage(ctx context.Context, kr *report.Kernel, dir string, builds []gcovBuild) {
	if len(builds) == 0 {
		return
	}
	var sets [][]coverage.File
	var problems []string
	for _, vm := range gcdaDirs(dir) {
		for _, b := range builds {
			files, err := gcovFiles(ctx, b, filepath.Join(vm, filepath.FromSlash(b.buildDir)))
			if err != nil {
				problems = append(problems, err.Error())
			}
			sets = append(sets, files)
		}
	}
	files := coverage.Merge(sets...)
	if len(files) == 0 {
		problems = append(problems, "no gcov data came from the guest")
	}
	if len(problems) > 0 {
		kr.Note = strings.TrimSpace(kr.Note + " Coverage: " + strings.Join(problems, "; ") + ".")
	}
	if len(files) == 0 {
		return
	}
	kr.Coverage = files
	path := filepath.Join(dir, runcfg.CoverageFile)
	if err := writeLCOV(path, kr.Name, files); err != nil {
		kr.Note = strings.TrimSpace(kr.Note + " Coverage: " + err.Error())
		return
	}
	kr.Files[runcfg.CoverageFile] = path
}

// gcovFiles reads the .gcda files of build b that lie under data (the
// guest's copy of b's build directory) with b's gcov. A file that cannot be
// read is left out, and said so in the error; the others still count.
func gcovFiles(ctx context.Context, b gcovBuild, data string) ([]coverage.File, error) {
	var gcdas []string
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".gcda") {
			gcdas = append(gcdas, p)
		}
		return nil
	})
	sort.Strings(gcdas)
	tmp, err := os.MkdirTemp("", "kmodvm-gcov-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var sets [][]coverage.File
	var errs []error
	for i, gcda := range gcdas {
		rel, _ := filepath.Rel(data, gcda)
		files, err := b.read(ctx, gcda, rel, filepath.Join(tmp, fmt.Sprint(i)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sets = append(sets, ownFiles(files, b))
	}
	return coverage.Merge(sets...), errors.Join(errs...)
}

// read reads one .gcda (rel, in the build directory) with b's gcov, in
// the scratch directory one (under gcov's working directory, its parent):
// gcov finds the notes by the data file's name, so both go there.
func (b gcovBuild) read(ctx context.Context, gcda, rel, one string) ([]coverage.File, error) {
	tmp := filepath.Dir(one)
	note := strings.TrimSuffix(rel, ".gcda") + ".gcno"
	if !slices.Contains(b.notes, note) {
		return nil, fmt.Errorf("%s: no %s in the build", rel, note)
	}
	base := filepath.Join(one, filepath.Base(strings.TrimSuffix(rel, ".gcda")))
	if err := os.MkdirAll(one, 0o755); err != nil {
		return nil, err
	}
	if err := copyTo(filepath.Join(b.workDir, note), base+".gcno"); err != nil {
		return nil, err
	}
	if err := copyTo(gcda, base+".gcda"); err != nil {
		return nil, err
	}
	cmd := b.tc.Command(ctx, []toolchain.Bind{{Path: tmp}}, b.tc.Gcov(), "--branch-probabilities", "--json-format", "--stdout", "--object-directory", one, base+".gcda")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", b.tc.Gcov(), rel, err, strings.TrimSpace(stderr.String()))
	}
	files, err := coverage.ParseGcov(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", b.tc.Gcov(), rel, err)
	}
	return files, nil
}

// ownFiles keeps the files of the module's own sources, named under the
// user's directory: gcov names them under the build directory, and lists
// the kernel's headers whose inline functions the module used too.
func ownFiles(files []coverage.File, b gcovBuild) []coverage.File {
	src, err := filepath.Abs(b.source)
	if err != nil {
		src = b.source
	}
	var out []coverage.File
	for _, f := range files {
		rel, err := filepath.Rel(b.buildDir, f.Path)
		if err != nil || !filepath.IsLocal(rel) || strings.HasSuffix(rel, ".mod.c") {
			continue
		}
		f.Path = filepath.Join(src, rel)
		out = append(out, f)
	}
	return out
}

func copyTo(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// writeLCOV writes files as an lcov tracefile at path, atomically.
func writeLCOV(path, test string, files []coverage.File) error {
	var b bytes.Buffer
	if err := coverage.WriteLCOV(&b, test, files); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, b.Bytes())
}

// keepGcda writes the gcov data of the kernel's VM number run to its
// directory (gcda/ for the first, gcda.rebootN/ after), where the run's
// coverage is read from; the first VM clears what an earlier run left.
func keepGcda(col *collect.Collector, dir string, run int) error {
	if run == 0 {
		for _, d := range gcdaDirs(dir) {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
	}
	return col.WriteGcda(filepath.Join(dir, runcfg.ArtifactName(runcfg.GcdaDir, run)))
}

// writeRunCoverage writes the coverage of all the run's kernels, summed,
// as coverage.info in the run's output directory, if any kernel has some.
func writeRunCoverage(out string, rep *report.Report) error {
	files := rep.Coverage()
	if files == nil {
		return nil
	}
	return writeLCOV(filepath.Join(out, runcfg.CoverageFile), "kmodvm", files)
}
