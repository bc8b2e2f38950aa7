package kconfig

import (
	"errors"
	"fmt"
	"strings"
)

// Kconfig expressions: the conditions of `depends on`, `if`, `visible if`
// and the values and conditions of `default` and prompts.

// kexpr is a parsed Kconfig expression. A leaf (op == "") is a symbol, a
// constant (y, m, n, a number), a quoted string (kept with its quotes) or an
// unexpanded macro such as $(cc-option,...) (kept with its "$(").
type kexpr struct {
	op   string // "", "!", "&&", "||", "=", "!=", "<", "<=", ">", ">="
	leaf string
	l, r *kexpr
}

// tokenize splits an expression into operators, parentheses, words, quoted
// strings and $(...) macros; a '#' outside those starts a comment.
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#':
			return toks, nil
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			toks = append(toks, `"`+s[i+1:j]+`"`)
			i = j + 1
		case strings.HasPrefix(s[i:], "$("):
			depth, j := 0, i+1
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated macro in %q", s)
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case strings.HasPrefix(s[i:], "&&"), strings.HasPrefix(s[i:], "||"),
			strings.HasPrefix(s[i:], "!="), strings.HasPrefix(s[i:], "<="), strings.HasPrefix(s[i:], ">="):
			toks = append(toks, s[i:i+2])
			i += 2
		case strings.ContainsRune("()!=<>", rune(c)):
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t#\"'()!=<>&|", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q in %q", c, s)
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// parseExpr parses a Kconfig expression:
//
//	expr  := and { "||" and }
//	and   := unary { "&&" unary }
//	unary := "!" unary | "(" expr ")" | leaf [ cmp leaf ]
func parseExpr(s string) (*kexpr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	return parseTokens(toks)
}

func parseTokens(toks []string) (*kexpr, error) {
	ep := &exprParser{toks: toks}
	e, err := ep.or()
	if err == nil && ep.i != len(toks) {
		err = fmt.Errorf("unexpected %q", toks[ep.i])
	}
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", strings.Join(toks, " "), err)
	}
	return e, nil
}

type exprParser struct {
	toks []string
	i    int
}

func (ep *exprParser) peek() string {
	if ep.i < len(ep.toks) {
		return ep.toks[ep.i]
	}
	return ""
}

func (ep *exprParser) or() (*kexpr, error) {
	return ep.binary("||", ep.and)
}

func (ep *exprParser) and() (*kexpr, error) {
	return ep.binary("&&", ep.unary)
}

func (ep *exprParser) binary(op string, next func() (*kexpr, error)) (*kexpr, error) {
	l, err := next()
	for err == nil && ep.peek() == op {
		ep.i++
		var r *kexpr
		if r, err = next(); err == nil {
			l = &kexpr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (ep *exprParser) unary() (*kexpr, error) {
	switch t := ep.peek(); t {
	case "!":
		ep.i++
		e, err := ep.unary()
		return &kexpr{op: "!", l: e}, err
	case "(":
		ep.i++
		e, err := ep.or()
		if err == nil && ep.peek() != ")" {
			err = errors.New("missing )")
		}
		ep.i++
		return e, err
	case "", ")", "&&", "||", "=", "!=", "<", "<=", ">", ">=":
		return nil, fmt.Errorf("unexpected %q", t)
	}
	l := &kexpr{leaf: ep.toks[ep.i]}
	ep.i++
	switch op := ep.peek(); op {
	case "=", "!=", "<", "<=", ">", ">=":
		ep.i++
		if ep.i >= len(ep.toks) {
			return nil, fmt.Errorf("nothing after %q", op)
		}
		r := &kexpr{leaf: ep.toks[ep.i]}
		ep.i++
		return &kexpr{op: op, l: l, r: r}, nil
	}
	return l, nil
}

// String prints an expression back in Kconfig syntax, for errors.
func (e *kexpr) String() string {
	switch e.op {
	case "":
		return e.leaf
	case "!":
		return "!" + e.l.String()
	case "&&", "||":
		return "(" + e.l.String() + " " + e.op + " " + e.r.String() + ")"
	}
	return e.l.String() + e.op + e.r.String()
}
