package kbuild

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Diagnostic is one compiler or linker message about the module's source.
type Diagnostic struct {
	File     string `json:"file"` // relative to the module's source directory when inside it
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Severity string `json:"severity"` // "warning" or "error"
	Message  string `json:"message"`
}

func (d Diagnostic) String() string {
	loc := d.File
	if d.Line > 0 {
		loc += ":" + strconv.Itoa(d.Line)
		if d.Col > 0 {
			loc += ":" + strconv.Itoa(d.Col)
		}
	}
	return fmt.Sprintf("%s: %s: %s", loc, d.Severity, d.Message)
}

var (
	gccDiagRe = regexp.MustCompile(`^(\S+?):(\d+):(?:(\d+):)? (warning|error|fatal error): (.*)$`)
	// modpost: "WARNING: modpost: "foo" [/x/m.ko] undefined!" and
	// "ERROR: modpost: ...".
	modpostRe = regexp.MustCompile(`^(WARNING|ERROR): modpost: (.*)$`)
)

// ParseDiagnostics extracts warnings and errors from a build log. Paths
// under the build copy work are mapped back to the source directory src and
// made relative to it.
func ParseDiagnostics(log []byte, work, src string) (warnings, errs []Diagnostic) {
	seen := map[string]bool{}
	for _, line := range strings.Split(string(log), "\n") {
		var d Diagnostic
		if m := gccDiagRe.FindStringSubmatch(line); m != nil {
			d.File = relTo(m[1], work)
			d.Line, _ = strconv.Atoi(m[2])
			d.Col, _ = strconv.Atoi(m[3])
			d.Severity, d.Message = m[4], m[5]
			if d.Severity == "fatal error" {
				d.Severity = "error"
			}
		} else if m := modpostRe.FindStringSubmatch(line); m != nil {
			d.File, d.Severity, d.Message = "modpost", strings.ToLower(m[1]), strings.ReplaceAll(m[2], work, src)
		} else {
			continue
		}
		if seen[d.String()] {
			continue
		}
		seen[d.String()] = true
		if d.Severity == "warning" {
			warnings = append(warnings, d)
		} else {
			errs = append(errs, d)
		}
	}
	return warnings, errs
}

func relTo(p, work string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	if r, err := filepath.Rel(work, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
