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
	f.Frames = r.trace()
	f.Func, f.Module = r.guilty(f.PC, f.Frames)
	f.Title = expand(r.pat.title, r.groups, f.Func)
	if r.pat.handler && r.groups["func"] != "" && r.groups["module"] != "" {
		f.Handler = Frame{Func: cleanFunc(r.groups["func"]), Module: r.groups["module"]}
	}
	return f
}

// guilty picks the function a report blames: the one its header (or a
// line of its body) names, such as a WARNING's location, else the
// faulting PC, else the first reliable frame of the call trace; in each
// case skipping the code that only reports faults (and the pattern's own
// skip list, such as allocators for a leak). A function named without its
// module takes the module a frame gives it.
func (r *report) guilty(pc Frame, trace []Frame) (fn, mod string) {
	candidates := []Frame{{Func: r.groups["func"], Module: r.groups["module"]}, pc}
	for _, fr := range trace {
		if !fr.Unreliable {
			candidates = append(candidates, fr)
		}
	}
	for i, c := range candidates {
		name := cleanFunc(c.Func)
		if name == "" && c.Addr != 0 && i >= 2 {
			// Code of a module since unloaded (kmemleak after rmmod): the
			// culprit has no name here; naming its caller would blame the
			// wrong function. The host names it from the module's symbols.
			return "", ""
		}
		if name == "" || genericFuncs.MatchString(name) || (r.pat.skip != nil && r.pat.skip.MatchString(name)) {
			continue
		}
		mod = c.Module
		for _, fr := range trace {
			if mod == "" && cleanFunc(fr.Func) == name {
				mod = fr.Module
			}
		}
		return name, mod
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

// cleanLoc makes a source location "file.c:12:9" stable: the column goes,
// and so do the directories of an absolute path (an out-of-tree module's
// build directory changes from run to run) and a leading "../" (a kernel
// built in a separate tree).
func cleanLoc(loc string) string {
	file, line, _ := strings.Cut(loc, ":")
	line, _, _ = strings.Cut(line, ":")
	if strings.HasPrefix(file, "/") {
		file = file[strings.LastIndexByte(file, '/')+1:]
	}
	for strings.HasPrefix(file, "../") {
		file = file[3:]
	}
	if line == "" {
		return file
	}
	return file + ":" + line
}

// expand fills a title template: $name from the report's groups, $left
// and $right as function names, $loc as a source location (cleanLoc) and
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
		switch name {
		case "func":
			b.WriteString(fn)
		case "left", "right":
			b.WriteString(cleanFunc(groups[name]))
		case "loc":
			b.WriteString(cleanLoc(groups[name]))
		default:
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
