package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A good project file gives each list, its relative paths made relative
// to the file's directory, and its allow-list, each entry naming its
// line.
func TestReadProjectFile(t *testing.T) {
	p, err := readProjectFile(filepath.Join("testdata", "config", "good.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "config")
	for _, c := range []struct {
		key       string
		got, want []string
	}{
		{"kernels", p.Kernels, []string{"6.1", "6.12", filepath.Join(dir, "trees", "linux")}},
		{"arch", p.Arch, []string{"amd64", "arm64"}},
		{"modules", p.Modules, []string{filepath.Join(dir, "kmod")}},
		{"tests", p.Tests, []string{filepath.Join(dir, "guest", "mmapdrv"), "/abs/tests"}},
		{"params", p.Params, []string{"mmapdrv.debug=1"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
	var rules []string
	for _, r := range p.rules {
		rules = append(rules, strings.Join([]string{r.Source, r.Title.String(), r.Reason, r.ExpiresOn()}, " | "))
	}
	want := []string{
		"testdata/config/good.toml:8 | ^WARNING in mmapdrv_mmap$ | upstream bug 1234, fixed in 6.13 | 2026-06-30",
		"testdata/config/good.toml:13 | KASAN: .* in mmapdrv_ | tracked in #56 | 2026-01-31",
	}
	if !slices.Equal(rules, want) {
		t.Errorf("allow-list:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	if active := p.rules.Active(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)); len(active) != 1 {
		t.Errorf("%d rules in force on 2026-03-01, want the first alone", len(active))
	}
}

// A malformed file is a usage error (exit 2) that names the file, the
// line and what is wrong.
func TestReadProjectFileErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"unknown-key.toml", `unknown-key.toml:7: unknown key "allow.expiry": the keys are kernels, arch, modules, tests, params, and title, reason and expires in [[allow]] tables; remove it or correct its name`},
		{"unknown-top.toml", `unknown-top.toml:2: unknown key "module"`},
		{"bad-date.toml", "bad-date.toml:4:16: allow.expires: impossible date"},
		{"date-string.toml", "date-string.toml:4:11: allow.expires: dates are expected to have the format YYYY-MM-DD"},
		{"bad-regexp.toml", "bad-regexp.toml:4:9: allow.title: not a Go regular expression (error parsing regexp: missing closing ): `WARNING in (f`)"},
		{"no-reason.toml", "no-reason.toml:6: the allow-list entry /^WARNING in g$/ lacks a reason"},
		{"wrong-type.toml", "wrong-type.toml:1:11: kernels: cannot decode TOML string"},
		{"syntax.toml", "syntax.toml:2:1: expected ',' or ']' after array value"},
		{"missing.toml", "missing.toml: no such file or directory"},
	} {
		_, err := readProjectFile(filepath.Join("testdata", "config", c.file))
		var ue usageError
		switch {
		case err == nil:
			t.Errorf("%s: read without error", c.file)
		case !errors.As(err, &ue):
			t.Errorf("%s: %v is no usage error", c.file, err)
		case !strings.Contains(err.Error(), "testdata/config/"+c.want) || !strings.Contains(err.Error(), configHint):
			t.Errorf("%s: error\n%v\nwant it to hold %q and the hint", c.file, err, c.want)
		}
	}
}

// A flag given on the command line replaces the file's list for it; the
// lists of flags not given come from the file.
func TestFlagsOverrideTheProjectFile(t *testing.T) {
	p, err := readProjectFile(filepath.Join("testdata", "config", "good.toml"))
	if err != nil {
		t.Fatal(err)
	}
	fromFile := map[string][]string{"kernels": p.Kernels, "arch": p.Arch, "module": p.Modules, "tests": p.Tests, "param": p.Params}
	for _, c := range []struct {
		args []string
		want map[string][]string // the flags whose value is not the file's
	}{
		{nil, nil},
		{[]string{"--kernels", "7.3,6.1-debug"}, map[string][]string{"kernels": {"7.3", "6.1-debug"}}},
		{[]string{"--arch", "arm64", "-m", "a", "-m", "b"}, map[string][]string{"arch": {"arm64"}, "module": {"a", "b"}}},
		{[]string{"--tests", "t", "--param", "m.x=1"}, map[string][]string{"tests": {"t"}, "param": {"m.x=1"}}},
	} {
		run, _, err := newRootCmd().Find([]string{"run"})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		if err := p.apply(run.Flags()); err != nil {
			t.Fatal(err)
		}
		for name, file := range fromFile {
			want, given := c.want[name]
			if !given {
				want = file
			}
			got, err := run.Flags().GetStringSlice(name)
			if err != nil {
				got, err = run.Flags().GetStringArray(name)
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%q: --%s = %q (%v), want %q", c.args, name, got, err, want)
			}
		}
	}
}

// Without --config, the file is the working directory's or the nearest
// parent's, looking no higher than the repository's root.
func TestFindProjectFile(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{".git", "a/b", "sub/.git", "sub/c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"kmodvm.toml", "a/kmodvm.toml"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outer := t.TempDir()
	if err := os.WriteFile(filepath.Join(outer, "kmodvm.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(outer, "repo", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{root, filepath.Join(root, "kmodvm.toml")},
		{filepath.Join(root, "a", "b"), filepath.Join(root, "a", "kmodvm.toml")},
		{filepath.Join(root, "sub", "c"), ""}, // sub is a repository of its own
		{filepath.Join(outer, "repo"), ""},    // not above the repository's root
		{filepath.Join(root, ".git"), filepath.Join(root, "kmodvm.toml")},
	} {
		if got := findProjectFile(c.dir); got != c.want {
			t.Errorf("findProjectFile(%s) = %q, want %q", c.dir, got, c.want)
		}
	}
}

// --no-config reads nothing, and names no file with --config.
func TestNoConfig(t *testing.T) {
	good := filepath.Join("testdata", "config", "good.toml")
	for _, c := range []struct {
		flags   configFlags
		read    bool
		wantErr bool
	}{
		{configFlags{path: good}, true, false},
		{configFlags{none: true}, false, false},
		{configFlags{path: good, none: true}, false, true},
	} {
		p, err := c.flags.load()
		if (p != nil) != c.read || (err != nil) != c.wantErr {
			t.Errorf("%+v: read %v, error %v; want read %v, an error %v", c.flags, p != nil, err, c.read, c.wantErr)
		}
	}
}
