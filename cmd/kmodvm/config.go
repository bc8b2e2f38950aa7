package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/spf13/pflag"
)

// projectFileName is the project file `kmodvm run` reads: the run's
// settings and the allow-list, so that CI runs a plain `kmodvm run`
// (docs/config.md).
const projectFileName = "kmodvm.toml"

// projectFile is kmodvm.toml as read. Each list stands for the flag
// named in flagOf; a flag given on the command line replaces it whole.
type projectFile struct {
	Kernels []string     `toml:"kernels"`
	Arch    []string     `toml:"arch"`
	Modules []string     `toml:"modules"`
	Tests   []string     `toml:"tests"`
	Params  []string     `toml:"params"`
	Allow   []allowEntry `toml:"allow"`

	// path is where the file was read, as messages name it; rules is
	// Allow made an allow-list, each rule naming its line.
	path  string
	rules allow.List
}

// allowEntry is one [[allow]] table.
type allowEntry struct {
	Title   titlePattern   `toml:"title"`
	Reason  string         `toml:"reason"`
	Expires toml.LocalDate `toml:"expires"`
}

// titlePattern is an entry's title, compiled as the file is decoded so
// that a bad expression is reported at its line.
type titlePattern struct{ re *regexp.Regexp }

func (p *titlePattern) UnmarshalText(b []byte) error {
	re, err := regexp.Compile(string(b))
	if err != nil {
		return fmt.Errorf("not a Go regular expression (%v): write it in RE2 syntax, e.g. '^WARNING in mydrv_ioctl$'", err)
	}
	p.re = re
	return nil
}

// configHint ends a message about a file that could not be read.
const configHint = "see docs/config.md for its keys, or run with --no-config"

// configFlags choose the project file: --config, or --no-config, or the
// one findProjectFile finds.
type configFlags struct {
	path string
	none bool
}

func (c *configFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&c.path, "config", "", "project file with the run's settings and allow-list (default: "+projectFileName+" in the working directory or the nearest parent, up to the repository's root); flags given override it")
	fs.BoolVar(&c.none, "no-config", false, "read no project file: the flags alone set the run")
}

// load reads the project file the flags choose; nil when there is none.
func (c *configFlags) load() (*projectFile, error) {
	switch {
	case c.none && c.path != "":
		return nil, usagef("--config and --no-config exclude each other")
	case c.none:
		return nil, nil
	case c.path != "":
		return readProjectFile(c.path)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	path := findProjectFile(wd)
	if path == "" {
		return nil, nil
	}
	if rel, err := filepath.Rel(wd, path); err == nil {
		path = rel
	}
	return readProjectFile(path)
}

// findProjectFile returns the kmodvm.toml of dir or of its nearest parent,
// looking no higher than the repository's root (the first directory with
// a .git), so that a file elsewhere above the checkout is never read; ""
// when there is none.
func findProjectFile(dir string) string {
	for {
		p := filepath.Join(dir, projectFileName)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// readProjectFile reads and checks the project file at path: a syntax
// error, an unknown key, a value of the wrong type, a bad pattern or
// date, or an [[allow]] entry lacking a part is a usage error naming the
// file and line.
func readProjectFile(path string) (*projectFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%v (%s)", err, configHint)
	}
	p := &projectFile{path: path}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, usageError{decodeError(path, err)}
	}
	lines := allowLines(data)
	for i, e := range p.Allow {
		r := allow.Rule{Title: e.Title.re, Reason: e.Reason, Source: path}
		if i < len(lines) {
			r.Source = fmt.Sprintf("%s:%d", path, lines[i])
		}
		if e.Expires != (toml.LocalDate{}) {
			r.Expires = e.Expires.AsTime(time.UTC)
		}
		if err := r.Check(); err != nil {
			return nil, usagef("%v (%s)", err, configHint)
		}
		p.rules = append(p.rules, r)
	}
	p.resolve(filepath.Dir(path))
	return p, nil
}

// decodeError says where in the file err happened and what to do.
func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			row, _ := e.Position()
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q: the keys are kernels, arch, modules, tests, params, and title, reason and expires in [[allow]] tables; remove it or correct its name (%s)",
				path, row, strings.Join(e.Key(), "."), configHint))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			msg = strings.Join(k, ".") + ": " + msg
		}
		return fmt.Errorf("%s:%d:%d: %s (%s)", path, row, col, msg, configHint)
	}
	return fmt.Errorf("%s: %w (%s)", path, err, configHint)
}

// allowLines returns the line of each [[allow]] header of a file that
// decoded, in order: where an entry lacking a part is reported.
func allowLines(data []byte) []int {
	var lines []int
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.ArrayTable {
			continue
		}
		it := e.Key()
		if it.Next() && string(it.Node().Data) == "allow" && it.IsLast() {
			lines = append(lines, p.Shape(p.Range(it.Node().Data)).Start.Line)
		}
	}
	return lines
}

// resolve makes the file's relative paths relative to dir, its
// directory: the modules, the tests and kernels given as a path (with a
// slash, or starting with a dot), so that the file means the same from
// any directory below it.
func (p *projectFile) resolve(dir string) {
	abs := func(s string) string {
		if filepath.IsAbs(s) || strings.HasPrefix(s, "~") {
			return s
		}
		return filepath.Join(dir, s)
	}
	for _, l := range []*[]string{&p.Modules, &p.Tests} {
		for i, s := range *l {
			(*l)[i] = abs(s)
		}
	}
	for i, s := range p.Kernels {
		if strings.ContainsRune(s, '/') || strings.HasPrefix(s, ".") {
			p.Kernels[i] = abs(s)
		}
	}
}

// flagOf names the flag each of the file's lists stands for.
func (p *projectFile) flagOf() map[string][]string {
	return map[string][]string{"kernels": p.Kernels, "arch": p.Arch, "module": p.Modules, "tests": p.Tests, "param": p.Params}
}

// apply sets each flag of fs the command line did not give to the file's
// list for it: a flag given wins.
func (p *projectFile) apply(fs *pflag.FlagSet) error {
	for name, vals := range p.flagOf() {
		f := fs.Lookup(name)
		if len(vals) == 0 || f == nil || f.Changed {
			continue
		}
		sv, ok := f.Value.(pflag.SliceValue)
		if !ok {
			return fmt.Errorf("flag --%s takes no list", name)
		}
		if err := sv.Replace(vals); err != nil {
			return usagef("%s: %s: %v", p.path, name, err)
		}
	}
	return nil
}
