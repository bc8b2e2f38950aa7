package kbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// Options describe one module build.
type Options struct {
	// Source is the module's directory, with a Kbuild or Makefile.
	Source string
	// Out is the build directory for this kernel; the source is copied
	// there. It is emptied first.
	Out string
	// MakeArgs are extra make arguments, e.g. "W=1".
	MakeArgs []string
	// Werror turns compiler warnings into a failed build.
	Werror bool
	// Jobs is make's -j; 0 means the number of CPUs.
	Jobs int
	// Coverage builds the module with gcov profiling (GCOV_PROFILE=y on
	// make's command line: the module's Kbuild stays as it is, and its
	// per-object GCOV_PROFILE_<obj>.o := n still holds). The kernel must
	// have CONFIG_GCOV_KERNEL. The build then leaves a .gcno file beside
	// each object (Result.Notes).
	Coverage bool
	// CacheDir, if set, keeps successful builds keyed by everything that
	// goes into them (the source files, the kernel, the toolchain, the make
	// arguments), so an unchanged module is not built again.
	CacheDir string
}

// reservedVars are the make variables a build sets from the kernel: a
// module's build may not set them.
var reservedVars = []string{"M", "O", "ARCH", "CROSS_COMPILE", "CC", "HOSTCC", "LD", "LLVM", "W", "GCOV_PROFILE"}

// CheckMakeVar checks a VAR=value for Options.MakeArgs given by a user.
func CheckMakeVar(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || name == "" || strings.ContainsAny(name, " \t$():") {
		return fmt.Errorf("make variable %q: want NAME=value", v)
	}
	if slices.Contains(reservedVars, name) {
		return fmt.Errorf("make variable %s: kmodvm sets it for the kernel (W=1 is --W1, GCOV_PROFILE is --coverage)", name)
	}
	return nil
}

// Result is the outcome of a module build.
type Result struct {
	Kernel    string       `json:"kernel"`
	Toolchain string       `json:"toolchain"`
	Modules   []Module     `json:"modules"`
	Warnings  []Diagnostic `json:"warnings,omitempty"`
	Errors    []Diagnostic `json:"errors,omitempty"`
	// BuildDir is where the module was compiled: the file names in the
	// .ko's debug info start there (a cached build keeps the directory of
	// the build that made it). Files under it are the module's source
	// directory's.
	BuildDir string `json:"build_dir,omitempty"`
	// WorkDir is where this build's files are: BuildDir for a fresh
	// build, the output directory's src/ for one restored from the cache.
	WorkDir string `json:"-"`
	// Notes are the gcov notes files (.gcno) of a Coverage build, relative
	// to WorkDir (and to BuildDir, where the kernel's gcov data names
	// them).
	Notes    []string      `json:"notes,omitempty"`
	LogPath  string        `json:"log"`
	Log      []byte        `json:"-"`
	Duration time.Duration `json:"duration"`
}

// ErrBuild marks a failed module build; the Result holds its diagnostics.
var ErrBuild = errors.New("module build failed")

// Build builds the module at o.Source for k with toolchain tc, logging the
// full build output to Out/build.log. A failed build returns a Result with
// the compiler's diagnostics and an error wrapping ErrBuild.
func Build(ctx context.Context, k *kernel.Kernel, tc *toolchain.Toolchain, o Options) (*Result, error) {
	if o.CacheDir == "" {
		return build(ctx, k, tc, o)
	}
	key, err := buildKey(k, tc, o)
	if err != nil {
		return nil, err
	}
	if r, err := fromCache(o.CacheDir, key, o.Out); err == nil {
		return r, nil
	}
	r, err := build(ctx, k, tc, o)
	if err == nil {
		// A failed store only costs the next run a rebuild.
		_ = toCache(o.CacheDir, key, r)
	}
	return r, err
}

func build(ctx context.Context, k *kernel.Kernel, tc *toolchain.Toolchain, o Options) (*Result, error) {
	start := time.Now()
	r := &Result{Kernel: k.Name, Toolchain: tc.String(), LogPath: filepath.Join(o.Out, "build.log")}
	if k.KDir == "" {
		return r, fmt.Errorf("%s has no headers to build against", k.Name)
	}
	src, err := filepath.Abs(o.Source)
	if err != nil {
		return r, err
	}
	if !hasKbuild(src) {
		return r, fmt.Errorf("%s: no Kbuild or Makefile: not a kernel module directory", src)
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return r, err
	}
	if err := os.RemoveAll(out); err != nil {
		return r, err
	}
	work := filepath.Join(out, "src")
	if err := copyTree(src, work, out); err != nil {
		return r, fmt.Errorf("copy %s: %w", src, err)
	}
	a, err := arch.Lookup(k.Arch)
	if err != nil {
		return r, err
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	r.BuildDir, r.WorkDir = work, work
	// The architecture's ARCH (and CROSS_COMPILE on another host) come
	// first, so that the kernel's and the caller's variables can still
	// override them.
	args := append([]string{"-C", k.KDir, "M=" + work, "-j" + strconv.Itoa(jobs)}, a.MakeArgs()...)
	args = append(append(append(append(args, k.MakeVars...), debugArgs(k)...), coverageArgs(o)...), o.MakeArgs...)
	args = append(args, "modules")
	var runErr error
	r.Log, runErr = runMake(ctx, k, tc, out, args)
	r.Duration = time.Since(start)
	if err := os.WriteFile(r.LogPath, r.Log, 0o644); err != nil {
		return r, err
	}
	r.Warnings, r.Errors = ParseDiagnostics(r.Log, work, src)
	if runErr != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if bytes.Contains(r.Log, []byte(noSpace)) {
			// A full disk is the machine's, not the module's.
			return r, fmt.Errorf("build for %s: %w: the compiler could not write its output in %s", k.Name, syscall.ENOSPC, out)
		}
		return r, fmt.Errorf("%w for %s: %v%s", ErrBuild, k.Name, runErr, firstErrors(r.Errors, r.Log))
	}
	mods, err := collectModules(work)
	if err != nil {
		return r, err
	}
	r.Modules = mods
	if len(mods) == 0 {
		return r, fmt.Errorf("%w for %s: make succeeded but produced no .ko", ErrBuild, k.Name)
	}
	if o.Coverage {
		if r.Notes, err = findNotes(work); err != nil {
			return r, err
		}
		if len(r.Notes) == 0 {
			return r, fmt.Errorf("%w for %s: built with GCOV_PROFILE=y but no .gcno file appeared: does the module's Kbuild set GCOV_PROFILE := n, or the kernel lack CONFIG_GCOV_KERNEL?", ErrBuild, k.Name)
		}
	}
	if o.Werror && len(r.Warnings) > 0 {
		return r, fmt.Errorf("%w for %s: %d warning(s) with --werror: %s", ErrBuild, k.Name, len(r.Warnings), r.Warnings[0])
	}
	return r, nil
}

// debugArgs are the make variables that give the module DWARF, so that
// reports name its source lines: none when the kernel's own build flags
// have -g (CONFIG_DEBUG_INFO), else KCFLAGS (the variable kbuild keeps for
// its user, appended to every compile), keeping the user's own.
func debugArgs(k *kernel.Kernel) []string {
	if k.Profile().DebugInfo {
		return nil
	}
	return []string{"KCFLAGS=" + strings.TrimSpace(os.Getenv("KCFLAGS")+" -g")}
}

// coverageArgs are the make variables of a Coverage build. On the command
// line GCOV_PROFILE overrides the module's own assignment, as a user's
// `make GCOV_PROFILE=y` would; scripts/Makefile.lib then adds the
// kernel's CFLAGS_GCOV to every object that does not opt out by name.
func coverageArgs(o Options) []string {
	if !o.Coverage {
		return nil
	}
	return []string{"GCOV_PROFILE=y"}
}

// findNotes lists the .gcno files under dir, relative to it.
func findNotes(dir string) ([]string, error) {
	var notes []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".gcno") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		notes = append(notes, rel)
		return err
	})
	sort.Strings(notes)
	return notes, err
}

// firstErrors summarises a failed build for its error message.
func firstErrors(diags []Diagnostic, log []byte) string {
	if len(diags) == 0 {
		// No compiler diagnostic: the lines before make's own errors
		// usually say what broke (a missing tool, a bad Makefile).
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
			if strings.Contains(l, "***") {
				break
			}
			if !strings.HasPrefix(l, "make") && !strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 3 {
			lines = lines[len(lines)-3:]
		}
		return ":\n  " + strings.Join(lines, "\n  ")
	}
	var b strings.Builder
	for i, d := range diags {
		if i == 3 {
			fmt.Fprintf(&b, "\n  (%d more)", len(diags)-3)
			break
		}
		b.WriteString("\n  " + d.String())
	}
	return b.String()
}

func hasKbuild(dir string) bool {
	for _, f := range []string{"Kbuild", "Makefile", "GNUmakefile"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// copyTree copies the regular files and directories of src to dst,
// skipping build products, version-control metadata and skip (the build
// directory, when it lies inside the source).
func copyTree(src, dst, skip string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if p == skip || (rel != "." && (d.Name() == ".git" || d.Name() == ".tmp_versions")) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || isBuildProduct(d.Name()) {
			return nil
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func isBuildProduct(name string) bool {
	for _, suf := range []string{".o", ".ko", ".mod", ".mod.c", ".cmd", ".symvers", ".order"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// collectModules finds the .ko files a build produced, with their modinfo.
func collectModules(dir string) ([]Module, error) {
	var mods []Module
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return err
		}
		m, err := ReadModule(p)
		if err != nil {
			return err
		}
		mods = append(mods, *m)
		return nil
	})
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name < mods[j].Name })
	return mods, err
}

// noSpace is how gcc, as, ld and make say ENOSPC (strerror's text).
const noSpace = "No space left on device"

// runMake runs make with args for k's modules in out and returns its
// output, headed by what ran. The compilers' temporary files go under
// out (bound at the same path in a userland's chroot) and go with the
// build: a build cancelled mid-compile kills gcc before it removes its
// own, and they would stay in the user's TMPDIR.
func runMake(ctx context.Context, k *kernel.Kernel, tc *toolchain.Toolchain, out string, args []string) ([]byte, error) {
	cmd := tc.Command(ctx, []toolchain.Bind{{Path: k.Dir, ReadOnly: true}, {Path: out}}, "make", args...)
	tmp := filepath.Join(out, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	var log bytes.Buffer
	fmt.Fprintf(&log, "# kernel %s, toolchain %s\n# make %s\n", k.Name, tc, strings.Join(args, " "))
	cmd.Stdout, cmd.Stderr = &log, &log
	err := cmd.Run()
	return log.Bytes(), err
}
