package kconfig

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kmodvm/kmodvm/internal/moddep"
)

// This file maps in-kernel module names to the Kconfig symbols that build
// them, from the tree's Makefiles (the way the kernel's own
// scripts/kconfig/streamline_config.pl does).

// ModuleOption is what builds one module.
type ModuleOption struct {
	// Symbol is the option in `obj-$(CONFIG_X) += name.o`.
	Symbol string
	// Guards are the options without which that Makefile line is never
	// read: `ifeq ($(CONFIG_Y),y)` blocks around it and the
	// `obj-$(CONFIG_Z) += dir/` lines that descend into its directory.
	Guards []string
	// Parts are the options, set in the stock config, of the module's
	// optional objects (`name-$(CONFIG_P) += part.o`). They change what the
	// module exports, not whether it is built, so they are not needed;
	// they are listed for callers that know which exported symbols the
	// user's module uses.
	Parts []string
}

// Symbols is the option and its guards: what the dependency closure needs.
func (o ModuleOption) Symbols() []string {
	return append([]string{o.Symbol}, o.Guards...)
}

// makeObj is one `obj-... += x` entry: a module (x.o) or a directory (x/).
type makeObj struct {
	dir    string   // the Makefile's directory, relative to the tree
	syms   []string // the CONFIG_ symbols in the obj- key; the last one is its option
	guards []string // enclosing positive ifeq/ifdef conditions
}

// kbuildIndex is what the tree's Makefiles say about modules and directories.
type kbuildIndex struct {
	modules map[string][]makeObj // normalized module name → where it is built
	dirs    map[string][]makeObj // directory → the lines that descend into it
	parts   map[string][]string  // dir + "/" + composite name → its parts' options
}

// ModuleOptions maps each module to the option that builds it. A module is
// named as lsmod shows it ('-' and '_' are the same) or by its path in
// modules.dep ("kernel/fs/fat/msdos.ko"), which tells apart modules of the
// same name in different directories. Where several Makefile lines can
// build a module or descend into its directory, the first one the stock
// config enables is taken.
func ModuleOptions(tree string, stock map[string]string, modules []string) (map[string]ModuleOption, error) {
	idx, err := indexKbuild(tree)
	if err != nil {
		return nil, err
	}
	opts := map[string]ModuleOption{}
	for _, m := range modules {
		o, err := idx.option(stock, m)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m, err)
		}
		opts[m] = o
	}
	return opts, nil
}

func (idx *kbuildIndex) option(stock map[string]string, module string) (ModuleOption, error) {
	name, dir := moddep.Name(module), ""
	if strings.Contains(module, "/") {
		dir = filepath.Dir(strings.TrimPrefix(filepath.Clean(module), "kernel/"))
	}
	var cands []makeObj
	for _, o := range idx.modules[name] {
		if dir == "" || o.dir == dir {
			cands = append(cands, o)
		}
	}
	o, ok := enabled(stock, cands)
	switch {
	case len(cands) == 0:
		return ModuleOption{}, errors.New("no Makefile builds it")
	case !ok:
		return ModuleOption{}, fmt.Errorf("the stock config builds none of %s", describe(cands))
	case len(o.syms) == 0:
		return ModuleOption{}, fmt.Errorf("%s builds it unconditionally (obj-y or obj-m)", o.dir)
	}
	opt := ModuleOption{Symbol: o.syms[len(o.syms)-1], Guards: append(o.syms[:len(o.syms)-1:len(o.syms)-1], o.guards...)}
	// Walk up the directory descents; a directory no Makefile descends
	// into is reached from the top-level Makefile or arch/<kconfigArch>/Makefile.
	for d := o.dir; len(idx.dirs[d]) > 0; {
		up, ok := enabled(stock, idx.dirs[d])
		if !ok {
			return ModuleOption{}, fmt.Errorf("the stock config descends into %s through none of %s", d, describe(idx.dirs[d]))
		}
		opt.Guards = append(append(opt.Guards, up.syms...), up.guards...)
		d = up.dir
	}
	for _, part := range idx.parts[o.dir+"/"+name] {
		if _, ok := stock["CONFIG_"+part]; ok {
			opt.Parts = appendNew(opt.Parts, part)
		}
	}
	opt.Guards = dedupe(opt.Guards, opt.Symbol)
	return opt, nil
}

// enabled returns the first of objs whose options and guards the stock
// config all sets.
func enabled(stock map[string]string, objs []makeObj) (makeObj, bool) {
	for _, o := range objs {
		ok := true
		for _, s := range append(append([]string(nil), o.syms...), o.guards...) {
			v := stock["CONFIG_"+s]
			ok = ok && (v == "y" || v == "m")
		}
		if ok {
			return o, true
		}
	}
	return makeObj{}, false
}

func describe(objs []makeObj) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.dir+" ("+strings.Join(append(append([]string(nil), o.syms...), o.guards...), ",")+")")
	}
	return strings.Join(s, "; ")
}

// normalizeModule spells a Makefile object's dashes as the kernel spells
// module names. Unlike moddep.Name it keeps a directory: an obj- line may
// name sub/x.o.
func normalizeModule(m string) string {
	return strings.ReplaceAll(m, "-", "_")
}

// indexKbuild reads every Kbuild (else Makefile) of the tree that a build
// for kconfigArch can descend into.
func indexKbuild(tree string) (*kbuildIndex, error) {
	idx := &kbuildIndex{modules: map[string][]makeObj{}, dirs: map[string][]makeObj{}, parts: map[string][]string{}}
	skip := map[string]bool{".git": true, "Documentation": true, "tools": true, "scripts": true, "usr": true, "include": true}
	err := filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, path)
		if d.IsDir() {
			if skip[rel] || (filepath.Dir(rel) == "arch" && d.Name() != kconfigArch) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "Makefile" && d.Name() != "Kbuild" {
			return nil
		}
		if d.Name() == "Makefile" {
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "Kbuild")); err == nil {
				return nil // Kbuild takes precedence over Makefile
			}
		}
		return idx.read(path, filepath.Dir(rel))
	})
	return idx, err
}

var (
	// obj-$(CONFIG_X) += ..., name-y := ..., name-objs = ...
	assignRe = regexp.MustCompile(`^([A-Za-z0-9_-]+)-(\$\(.*\)|\$\{.*\}|y|m|objs)\s*(?:\+=|:=|=)\s*(.*)$`)
	configRe = regexp.MustCompile(`CONFIG_([A-Za-z0-9_]+)`) // in $(...) or ${...}
	// ifeq ($(CONFIG_X),y), ifneq ($(CONFIG_X),), ifdef CONFIG_X.
	positiveIfRe = regexp.MustCompile(`^(?:ifeq\s*\(\$\(CONFIG_(\w+)\),\s*[ym]\s*\)|ifneq\s*\(\$\(CONFIG_(\w+)\),\s*n?\s*\)|ifdef\s+CONFIG_(\w+))$`)
)

// makeAssign is one `name-KEY += words` line of a Makefile.
type makeAssign struct {
	name  string
	obj   makeObj // the key's options and the enclosing conditions
	words []string
}

// read indexes one Makefile; dir is its directory relative to the tree.
func (idx *kbuildIndex) read(path, dir string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lists := map[string][]makeAssign{} // e.g. infiniband-$(CONFIG_X) := rdma_cm.o
	var objs []makeAssign
	// conds holds one entry per open conditional: its positive symbol, or
	// "" for a negative, compound or else branch (which needs nothing).
	var conds []string
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(string(data), "\\\n", " ")))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		kw, _, _ := strings.Cut(line, " ")
		switch {
		case kw == "ifeq" || kw == "ifneq" || kw == "ifdef" || kw == "ifndef" || strings.HasPrefix(line, "ifeq(") || strings.HasPrefix(line, "ifneq("):
			conds = append(conds, positiveIf(line))
			continue
		case kw == "else" && len(conds) > 0:
			conds[len(conds)-1] = positiveIf(strings.TrimSpace(strings.TrimPrefix(line, "else")))
			continue
		case kw == "endif" && len(conds) > 0:
			conds = conds[:len(conds)-1]
			continue
		}
		m := assignRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := makeAssign{name: m[1], obj: makeObj{dir: dir}, words: strings.Fields(m[3])}
		for _, s := range configRe.FindAllStringSubmatch(m[2], -1) {
			a.obj.syms = append(a.obj.syms, s[1])
		}
		for _, c := range conds {
			if c != "" {
				a.obj.guards = append(a.obj.guards, c)
			}
		}
		if a.name == "obj" {
			objs = append(objs, a)
			continue
		}
		lists[a.name] = append(lists[a.name], a)
		// A composite object's conditional parts.
		key := dir + "/" + normalizeModule(a.name)
		for _, s := range a.obj.syms {
			idx.parts[key] = appendNew(idx.parts[key], s)
		}
	}
	// Make expands variables lazily, so lists may be defined after use.
	for _, a := range objs {
		for _, word := range a.words {
			idx.add(a.obj, word, lists)
		}
	}
	return sc.Err()
}

// add indexes one word of an obj- line: a module, a directory, or a list
// variable such as $(infiniband-y) whose entries carry their own options.
func (idx *kbuildIndex) add(o makeObj, word string, lists map[string][]makeAssign) {
	switch {
	case strings.HasPrefix(word, "$(") && strings.HasSuffix(word, ")"):
		name := strings.TrimSuffix(word[2:len(word)-1], "-y")
		name = strings.TrimSuffix(name, "-m")
		for _, l := range lists[name] {
			inner := makeObj{dir: o.dir,
				syms:   append(append([]string(nil), l.obj.syms...), o.syms...),
				guards: append(append([]string(nil), o.guards...), l.obj.guards...)}
			for _, w := range l.words {
				if !strings.HasPrefix(w, "$") { // one level is all the tree uses
					idx.add(inner, w, nil)
				}
			}
		}
	case strings.HasSuffix(word, ".o") && !strings.Contains(word, "$"):
		name := normalizeModule(strings.TrimSuffix(word, ".o"))
		idx.modules[name] = append(idx.modules[name], o)
	case strings.HasSuffix(word, "/") && !strings.Contains(word, ".."):
		sub := filepath.Join(o.dir, word)
		idx.dirs[sub] = append(idx.dirs[sub], o)
	}
}

// positiveIf returns the symbol a Makefile conditional needs set, or "".
func positiveIf(line string) string {
	m := positiveIfRe.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return m[1] + m[2] + m[3] // exactly one alternative matched
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// dedupe drops duplicates and drop, keeping the order.
func dedupe(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = appendNew(out, s)
		}
	}
	return out
}
