package kconfig

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A user's module may need in-kernel modules (v4l2loopback needs videodev
// and mc). A stock Debian kernel builds them all; a minimal debug kernel
// builds them only if their options and everything those options depend on
// are in its configuration. This file computes that configuration fragment:
// the dependency closure of a set of symbols, each taken at the value the
// stock kernel's config gives it. The stock config is consistent, so copying
// its values for exactly the symbols the Kconfig conditions mention keeps
// them consistent in the much smaller debug config.
//
// Symbols are named as Kconfig names them ("VIDEO_DEV"); configs read from a
// .config file are keyed as the file writes them ("CONFIG_VIDEO_DEV").

// DependencyFragment returns the sorted "CONFIG_X=v" lines that set syms
// and every symbol their Kconfig conditions need, at the stock config's
// values. What a symbol needs is read from its `depends on` lines, the
// `if`, `menu` and `choice` blocks around it, and its prompt's condition;
// a symbol without a visible prompt gets its value from its first active
// `default`, so that default's expressions are needed instead. A negated
// reference (!X, X=n) pins X unset ("# CONFIG_X is not set"), and of the
// branches of an `||` the first one the stock config satisfies is taken. `select`ed symbols need
// nothing: Kconfig forces them. A needed symbol that the stock config does
// not set is an error naming it.
func DependencyFragment(tree string, stock map[string]string, syms []string) ([]string, error) {
	kc, err := parseKconfig(tree)
	if err != nil {
		return nil, err
	}
	r := &resolver{kc: kc, stock: stock, want: map[string]string{}}
	for _, s := range syms {
		if err := r.symbol(strings.TrimPrefix(s, "CONFIG_"), "requested"); err != nil {
			return nil, err
		}
	}
	for _, v := range r.want {
		if v == "m" {
			// Every =m symbol implicitly depends on MODULES.
			if err := r.symbol("MODULES", "modules"); err != nil {
				return nil, err
			}
			break
		}
	}
	lines := make([]string, 0, len(r.want))
	for s, v := range r.want {
		if v == "n" {
			lines = append(lines, "# CONFIG_"+s+" is not set")
		} else {
			lines = append(lines, "CONFIG_"+s+"="+v)
		}
	}
	sort.Slice(lines, func(i, j int) bool { return fragmentKey(lines[i]) < fragmentKey(lines[j]) })
	return lines, nil
}

// fragmentKey sorts "# CONFIG_X is not set" among the "CONFIG_X=v" lines.
func fragmentKey(line string) string {
	return strings.TrimPrefix(line, "# ")
}

// resolver accumulates the closure.
type resolver struct {
	kc    *kconfig
	stock map[string]string
	want  map[string]string // symbol → value in the fragment
}

// tristate values: n < m < y.
const (
	triN = iota
	triM
	triY
)

// value is a symbol's value in the stock config, "n" when unset (Kconfig's
// value for an unset bool or tristate).
func (r *resolver) value(sym string) string {
	if v, ok := r.stock["CONFIG_"+sym]; ok {
		return strings.Trim(v, `"`)
	}
	return "n"
}

// unset pins a symbol that a condition needs off (!FOO, FOO=n): its
// default may turn it on in a minimal config where the stock one has it
// off (MEDIA_SUPPORT_FILTER defaults to y unless EXPERT). Symbols no
// Kconfig file defines for this architecture are off anyway.
func (r *resolver) unset(sym, why string) error {
	switch r.want[sym] {
	case "n":
		return nil
	case "y", "m":
		return fmt.Errorf("%s needs CONFIG_%s unset, but something else needs it set", why, sym)
	}
	if r.value(sym) != "n" {
		return fmt.Errorf("%s needs CONFIG_%s unset, but the stock config sets it", why, sym)
	}
	if len(r.kc.syms[sym]) > 0 {
		r.want[sym] = "n"
	}
	return nil
}

// symbol adds sym at its stock value and, once, everything it needs.
// why names what needed it, for the error.
func (r *resolver) symbol(sym, why string) error {
	switch r.want[sym] {
	case "y", "m":
		return nil
	case "n":
		return fmt.Errorf("%s needs CONFIG_%s set, but something else needs it unset", why, sym)
	}
	v := r.value(sym)
	if v != "y" && v != "m" {
		return fmt.Errorf("%s needs CONFIG_%s, which the stock config does not set", why, sym)
	}
	r.want[sym] = v // before recursing: dependency cycles end here
	def := r.definition(sym)
	if def == nil {
		return fmt.Errorf("%s needs CONFIG_%s, which no Kconfig file defines", why, sym)
	}
	need, why := tri(v), "CONFIG_"+sym+" ("+def.pos+")"
	if !def.tristate {
		need = triM // a bool is y when its conditions are m or y
	}
	for _, e := range dependencies(def) {
		if err := r.expr(e, need, why); err != nil {
			return err
		}
	}
	if vis := visibility(def); def.prompt && r.all(vis, triM) {
		// Set by the fragment: the prompt must be visible.
		for _, e := range vis {
			if err := r.expr(e, triM, why); err != nil {
				return err
			}
		}
		return nil
	}
	// No visible prompt: the value comes from the first default whose
	// condition holds. If none gives it, something selects the symbol and
	// the fragment check after olddefconfig says whether that happened.
	for _, d := range def.defaults {
		if d.cond != nil && r.eval(d.cond) == triN {
			continue
		}
		if r.eval(d.value) < need {
			return nil
		}
		if d.cond != nil {
			if err := r.expr(d.cond, triM, why); err != nil {
				return err
			}
		}
		return r.expr(d.value, need, why)
	}
	return nil
}

// visibility is what shows a symbol's prompt besides its dependencies: the
// prompt's `if` and the `visible if` of the menus around it.
func visibility(def *ksymbol) []*kexpr {
	var vis []*kexpr
	for _, b := range def.blocks {
		vis = append(vis, b.visible...)
	}
	if def.promptIf != nil {
		vis = append(vis, def.promptIf)
	}
	return vis
}

// dependencies are a definition's own and its blocks' `depends on`.
func dependencies(def *ksymbol) []*kexpr {
	var deps []*kexpr
	for _, b := range def.blocks {
		deps = append(deps, b.deps...)
	}
	return append(deps, def.deps...)
}

// all reports whether every expression reaches need under the stock config.
func (r *resolver) all(es []*kexpr, need int) bool {
	for _, e := range es {
		if r.eval(e) < need {
			return false
		}
	}
	return true
}

// definition picks the definition of sym that the stock config enables:
// the first whose conditions hold, else the first.
func (r *resolver) definition(sym string) *ksymbol {
	defs := r.kc.syms[sym]
	for _, d := range defs {
		need := tri(r.value(sym))
		if !d.tristate {
			need = triM
		}
		if r.all(dependencies(d), need) {
			return d
		}
	}
	if len(defs) > 0 {
		return defs[0]
	}
	return nil
}

// expr adds what makes e reach need (triM or triY).
func (r *resolver) expr(e *kexpr, need int, why string) error {
	switch e.op {
	case "&&":
		if err := r.expr(e.l, need, why); err != nil {
			return err
		}
		return r.expr(e.r, need, why)
	case "||":
		if r.eval(e.l) >= need {
			return r.expr(e.l, need, why)
		}
		if r.eval(e.r) >= need {
			return r.expr(e.r, need, why)
		}
		return fmt.Errorf("%s: the stock config meets no branch of %s", why, e)
	case "!":
		if e.l.op == "" && isSymbol(e.l.leaf) {
			return r.unset(e.l.leaf, why)
		}
		return nil // a negated compound needs nothing we can pin simply
	case "":
		if !isSymbol(e.leaf) {
			return nil
		}
		if err := r.symbol(e.leaf, why); err != nil {
			return err
		}
		if tri(r.value(e.leaf)) < need {
			return fmt.Errorf("%s needs CONFIG_%s=y, which the stock config sets to m", why, e.leaf)
		}
		return nil
	case "=", "!=":
		if r.eval(e) == triN {
			return fmt.Errorf("%s: the stock config does not meet %s", why, e)
		}
		// A symbol side is needed when the comparison would fail with the
		// symbol unset: FOO=y and FOO!=n need FOO. FOO=n with FOO unset in
		// the stock config pins it unset.
		for _, side := range []*kexpr{e.l, e.r} {
			var err error
			switch {
			case !isSymbol(side.leaf):
			case r.value(side.leaf) == "n":
				err = r.unset(side.leaf, why)
			case !r.evalWithout(e, side.leaf):
				err = r.symbol(side.leaf, why)
			}
			if err != nil {
				return err
			}
		}
	}
	// Ordering comparisons (GCC_VERSION >= 110200) test int symbols that
	// Kconfig computes from the toolchain: nothing to set.
	return nil
}

// evalWithout evaluates a comparison as if sym were unset.
func (r *resolver) evalWithout(e *kexpr, sym string) bool {
	saved, had := r.stock["CONFIG_"+sym]
	delete(r.stock, "CONFIG_"+sym)
	ok := r.eval(e) > triN
	if had {
		r.stock["CONFIG_"+sym] = saved
	}
	return ok
}

// eval is e's tristate value under the stock config.
func (r *resolver) eval(e *kexpr) int {
	switch e.op {
	case "&&":
		return min(r.eval(e.l), r.eval(e.r))
	case "||":
		return max(r.eval(e.l), r.eval(e.r))
	case "!":
		return triY - r.eval(e.l)
	case "":
		return tri(r.leaf(e.leaf))
	}
	a, b := r.leaf(e.l.leaf), r.leaf(e.r.leaf)
	var ok bool
	switch e.op {
	case "=":
		ok = a == b
	case "!=":
		ok = a != b
	default:
		ok = compareNumbers(e.op, a, b)
	}
	if ok {
		return triY
	}
	return triN
}

// leaf is a leaf's value: a symbol's stock value, a constant or string as
// written, and "y" for a macro (a toolchain test taken as passed).
func (r *resolver) leaf(s string) string {
	switch {
	case strings.HasPrefix(s, "$("):
		return "y"
	case strings.HasPrefix(s, `"`):
		return strings.Trim(s, `"`)
	case isSymbol(s):
		return r.value(s)
	}
	return s
}

// compareNumbers evaluates <, <=, >, >= on decimal or hex values; anything
// else compares as false, as in Kconfig.
func compareNumbers(op, a, b string) bool {
	x, err1 := strconv.ParseInt(a, 0, 64)
	y, err2 := strconv.ParseInt(b, 0, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch op {
	case "<":
		return x < y
	case "<=":
		return x <= y
	case ">":
		return x > y
	}
	return x >= y
}

func tri(v string) int {
	switch v {
	case "y":
		return triY
	case "m":
		return triM
	}
	return triN
}

// isSymbol reports whether a leaf names a symbol rather than a constant,
// a number, a string or a macro.
func isSymbol(s string) bool {
	if s == "y" || s == "m" || s == "n" || s == "" {
		return false
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil {
		return false
	}
	return s[0] != '"' && s[0] != '$'
}
