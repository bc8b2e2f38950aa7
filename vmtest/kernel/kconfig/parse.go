package kconfig

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// This file reads a kernel tree's Kconfig files into what the dependency
// closure needs: for each symbol, its definitions with the conditions that
// guard them. It is not a Kconfig implementation: it keeps `depends on`,
// enclosing `if`/`menu`/`choice` conditions, prompts and defaults, and
// ignores the rest (select, imply, range, help text, macros' definitions).

// kblock is an enclosing `if`, `menu` or `choice`: its conditions apply to
// every entry inside it.
type kblock struct {
	kind    string // "if", "menu", "choice"
	deps    []*kexpr
	visible []*kexpr // a menu's `visible if`: hides the prompts inside it
}

// kdefault is one `default VALUE [if COND]` (def_bool and def_tristate are
// a type plus a default).
type kdefault struct {
	value, cond *kexpr
}

// ksymbol is one definition of a symbol; a symbol may be defined in several
// places (e.g. per architecture or with different prompts).
type ksymbol struct {
	name     string
	pos      string    // file:line, for errors
	blocks   []*kblock // enclosing if/menu/choice blocks, outermost first
	deps     []*kexpr  // its own `depends on` lines
	tristate bool      // else bool (or a non-boolean type, never needed here)
	prompt   bool
	promptIf *kexpr // the prompt's `if` condition, nil when none
	defaults []kdefault
}

// kconfig is a parsed Kconfig tree: every definition of every symbol.
type kconfig struct {
	syms map[string][]*ksymbol
}

// kconfigArch is the architecture the tree is read for, ARCH and SRCARCH:
// the default one's, the only one kmodvm builds kernels for.
var kconfigArch = arch.Must(arch.Default).KernelArch

// parseKconfig reads tree/Kconfig and everything it sources.
func parseKconfig(tree string) (*kconfig, error) {
	p := &kparser{tree: tree, kc: &kconfig{syms: map[string][]*ksymbol{}}}
	if err := p.file(filepath.Join(tree, "Kconfig"), false); err != nil {
		return nil, err
	}
	if len(p.stack) != 0 {
		return nil, fmt.Errorf("kconfig: %s block not closed", p.stack[len(p.stack)-1].kind)
	}
	return p.kc, nil
}

type kparser struct {
	tree  string
	kc    *kconfig
	stack []*kblock // open blocks; they may span `source`d files
}

// entry is what attribute lines (depends on, default, prompt...) attach to.
type entry struct {
	sym   *ksymbol
	block *kblock
}

// file parses one Kconfig file. An optional file (osource) may be absent.
func (p *kparser) file(path string, optional bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	defer f.Close()
	var (
		cur     entry
		help    = -1 // help text's indent once known; -2 right after "help"
		lineNo  int
		pending string // a line continued with a trailing backslash
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		if help != -1 {
			// Help text runs until the first non-blank line indented less
			// than its first line, or not at all (Kconfig's lexer rule).
			if strings.TrimSpace(raw) == "" {
				continue
			}
			ind := indent(raw)
			if help == -2 && ind > 0 {
				help = ind
			}
			if help >= 0 && ind >= help {
				continue
			}
			help = -1
		}
		if strings.HasSuffix(raw, "\\") {
			pending += strings.TrimSuffix(raw, "\\") + " "
			continue
		}
		line := strings.TrimSpace(expandArch(pending + raw))
		pending = ""
		if line == "" || line[0] == '#' {
			continue
		}
		pos := fmt.Sprintf("%s:%d", strings.TrimPrefix(path, p.tree+"/"), lineNo)
		kw, rest := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			kw, rest = line[:i], strings.TrimSpace(line[i+1:])
		}
		if kw == "help" || kw == "---help---" {
			help = -2
			continue
		}
		var err error
		cur, err = p.statement(kw, rest, pos, path, cur)
		if err != nil {
			return fmt.Errorf("kconfig: %s: %w", pos, err)
		}
	}
	return sc.Err()
}

// statement handles one logical line and returns the entry that following
// attribute lines belong to.
func (p *kparser) statement(kw, rest, pos, path string, cur entry) (entry, error) {
	switch kw {
	case "config", "menuconfig":
		name, _, _ := strings.Cut(rest, " ")
		s := &ksymbol{name: name, pos: pos, blocks: append([]*kblock(nil), p.stack...)}
		p.kc.syms[name] = append(p.kc.syms[name], s)
		return entry{sym: s}, nil
	case "menu", "choice":
		b := &kblock{kind: kw}
		p.stack = append(p.stack, b)
		return entry{block: b}, nil
	case "if":
		e, err := parseExpr(rest)
		if err != nil {
			return entry{}, err
		}
		p.stack = append(p.stack, &kblock{kind: "if", deps: []*kexpr{e}})
		return entry{}, nil
	case "endmenu", "endchoice", "endif":
		want := strings.TrimPrefix(kw, "end")
		if n := len(p.stack); n == 0 || p.stack[n-1].kind != want {
			return entry{}, fmt.Errorf("%s without %s", kw, want)
		}
		p.stack = p.stack[:len(p.stack)-1]
		return entry{}, nil
	case "source", "osource", "rsource", "orsource":
		name := strings.Trim(rest, `"`)
		if strings.ContainsAny(name, "$*") {
			return entry{}, fmt.Errorf("cannot source %q (unexpanded macro or glob)", name)
		}
		full := filepath.Join(p.tree, name)
		if strings.HasPrefix(kw, "r") || strings.HasPrefix(kw, "or") {
			full = filepath.Join(filepath.Dir(path), name)
		}
		return entry{}, p.file(full, strings.HasPrefix(kw, "o"))
	case "comment", "mainmenu":
		// A comment's `depends on` hides the comment only: attach to nothing.
		return entry{block: &kblock{kind: kw}}, nil
	case "depends":
		e, err := parseExpr(strings.TrimSpace(strings.TrimPrefix(rest, "on")))
		if err != nil {
			return cur, err
		}
		if cur.sym != nil {
			cur.sym.deps = append(cur.sym.deps, e)
		} else if cur.block != nil {
			cur.block.deps = append(cur.block.deps, e)
		}
		return cur, nil
	}
	if kw == "visible" && cur.block != nil {
		e, err := parseExpr(strings.TrimSpace(strings.TrimPrefix(rest, "if")))
		if err == nil {
			cur.block.visible = append(cur.block.visible, e)
		}
		return cur, err
	}
	if cur.sym == nil {
		return cur, nil
	}
	return cur, p.attribute(cur.sym, kw, rest)
}

// attribute records a symbol's type/prompt/default lines.
func (p *kparser) attribute(s *ksymbol, kw, rest string) error {
	if kw == "tristate" || kw == "def_tristate" {
		s.tristate = true
	}
	switch kw {
	case "bool", "tristate", "string", "int", "hex", "prompt":
		if !strings.HasPrefix(rest, `"`) {
			return nil // a type without a prompt
		}
		_, cond, err := splitIf(rest)
		if err != nil {
			return err
		}
		s.prompt, s.promptIf = true, cond
	case "default", "def_bool", "def_tristate":
		value, cond, err := splitIf(rest)
		if err != nil {
			return err
		}
		s.defaults = append(s.defaults, kdefault{value: value, cond: cond})
	}
	return nil
}

// splitIf parses "EXPR [if EXPR]".
func splitIf(s string) (value, cond *kexpr, err error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, nil, err
	}
	for i, t := range toks {
		if t == "if" {
			if value, err = parseTokens(toks[:i]); err == nil {
				cond, err = parseTokens(toks[i+1:])
			}
			return value, cond, err
		}
	}
	value, err = parseTokens(toks)
	return value, nil, err
}

// expandArch substitutes the two macros that choose files and prompts per
// architecture. Other macros ($(cc-option,...) and friends) stay as they are
// and evaluate as true: they test the toolchain, not the configuration.
func expandArch(s string) string {
	return strings.NewReplacer("$(SRCARCH)", kconfigArch, "$(ARCH)", kconfigArch).Replace(s)
}

// indent is a line's leading whitespace width with tabs to multiples of 8.
func indent(s string) int {
	n := 0
	for _, c := range s {
		switch c {
		case ' ':
			n++
		case '\t':
			n = n&^7 + 8
		default:
			return n
		}
	}
	return n
}
