package dmesg

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxTitle bounds a title's length.
const maxTitle = 200

// finish builds the Finding: the title from the pattern's template and the
// guilty function.
func (r *report) finish() Finding {
	f := r.f
	f.Report = strings.Join(r.lines, "\n")
	f.Func, f.Module = r.guilty()
	f.Title = expand(r.pat.title, r.groups, f.Func)
	return f
}

// guilty picks the function a report blames: the one its header names (a
// WARNING's location), else the faulting RIP, else the first frame of the
// call trace; in each case skipping the code that only reports faults.
func (r *report) guilty() (fn, mod string) {
	candidates := [][2]string{{r.groups["func"], r.groups["module"]}, {r.ripFunc, r.ripMod}}
	candidates = append(candidates, r.frames...)
	for _, c := range candidates {
		name := cleanFunc(c[0])
		if name != "" && !genericFuncs.MatchString(name) {
			return name, c[1]
		}
	}
	return "", ""
}

// compilerSuffix matches the clone suffixes gcc adds to function names.
var compilerSuffix = regexp.MustCompile(`(?:\.(?:cold|isra|constprop|part|lto_priv|llvm)(?:\.\d+)?)+$`)

// cleanFunc drops compiler clone suffixes: faultmod_ioctl.cold is
// faultmod_ioctl.
func cleanFunc(name string) string {
	return compilerSuffix.ReplaceAllString(name, "")
}

// expand fills a title template: $name from the header's groups and
// "in $func" from the guilty function.
func expand(tmpl string, groups map[string]string, fn string) string {
	if fn == "" {
		tmpl = strings.Replace(tmpl, " in $func", "", 1)
	}
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			b.WriteByte(tmpl[i])
			continue
		}
		j := i + 1
		for j < len(tmpl) && (tmpl[j] >= 'a' && tmpl[j] <= 'z') {
			j++
		}
		name := tmpl[i+1 : j]
		if name == "func" {
			b.WriteString(fn)
		} else {
			b.WriteString(groups[name])
		}
		i = j - 1
	}
	title := strings.ToValidUTF8(strings.Join(strings.Fields(b.String()), " "), "?")
	if len(title) > maxTitle {
		cut := maxTitle
		for cut > 0 && !utf8.RuneStart(title[cut]) {
			cut--
		}
		title = title[:cut]
	}
	return title
}
