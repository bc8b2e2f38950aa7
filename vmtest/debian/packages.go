package debian

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"pault.ag/go/debian/version"
)

// Package is one binary package version offered by one suite.
type Package struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Arch     string `json:"arch"`
	Suite    string `json:"suite"`
	Source   string `json:"source,omitempty"`
	Depends  string `json:"depends,omitempty"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// String names the package as apt does: name=version.
func (p Package) String() string { return p.Name + "=" + p.Version }

// aptName names the package for apt-get download: name:arch=version, so
// that apt takes a foreign architecture's package (linux-kbuild-6.1 exists
// for amd64 and arm64) exactly as indexed. "all" packages have no
// qualifier.
func (p Package) aptName() string {
	if p.Arch == "" || p.Arch == "all" {
		return p.String()
	}
	return p.Name + ":" + p.Arch + "=" + p.Version
}

// maxParagraph bounds one Packages paragraph; real ones are a few KiB.
const maxParagraph = 1 << 20

// ErrMalformed marks a Packages paragraph that cannot be used.
var ErrMalformed = errors.New("malformed Packages paragraph")

// ParsePackages reads a Packages index (the archive's dists/*/Packages
// format) and returns the paragraphs whose package name keep accepts, tagged
// with suite. Fields other than the ones Package holds are skipped without
// being parsed, so the large indexes of sid and trixie read quickly.
// Malformed paragraphs of kept packages are an error; others are ignored.
func ParsePackages(r io.Reader, suite string, keep func(name string) bool) ([]Package, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var out []Package
	var para []byte
	flush := func() error {
		defer func() { para = para[:0] }()
		if len(bytes.TrimSpace(para)) == 0 {
			return nil
		}
		name := fieldValue(para, "Package")
		if name == "" || !keep(name) {
			return nil
		}
		p, err := parseParagraph(para, suite)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An over-long line: keep reading it, bounded by maxParagraph.
			para = append(para, line...)
			if len(para) > maxParagraph {
				return out, fmt.Errorf("%w: paragraph over %d bytes", ErrMalformed, maxParagraph)
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if ferr := flush(); ferr != nil {
				return out, ferr
			}
		} else {
			para = append(para, line...)
			if len(para) > maxParagraph {
				return out, fmt.Errorf("%w: paragraph over %d bytes", ErrMalformed, maxParagraph)
			}
		}
		if err == io.EOF {
			return out, flush()
		}
		if err != nil {
			return out, err
		}
	}
}

// fieldValue returns the single-line value of field in a paragraph, or "".
func fieldValue(para []byte, field string) string {
	for len(para) > 0 {
		line := para
		if i := bytes.IndexByte(para, '\n'); i >= 0 {
			line, para = para[:i], para[i+1:]
		} else {
			para = nil
		}
		if len(line) > len(field) && line[len(field)] == ':' && string(line[:len(field)]) == field {
			return strings.TrimSpace(string(line[len(field)+1:]))
		}
	}
	return ""
}

func parseParagraph(para []byte, suite string) (Package, error) {
	p := Package{
		Name:     fieldValue(para, "Package"),
		Version:  fieldValue(para, "Version"),
		Arch:     fieldValue(para, "Architecture"),
		Source:   fieldValue(para, "Source"),
		Depends:  fieldValue(para, "Depends"),
		Filename: fieldValue(para, "Filename"),
		SHA256:   fieldValue(para, "SHA256"),
		Suite:    suite,
	}
	if _, err := fmt.Sscan(fieldValue(para, "Size"), &p.Size); err != nil || p.Size <= 0 {
		return p, fmt.Errorf("%w: %s: bad Size", ErrMalformed, p.Name)
	}
	if _, err := version.Parse(p.Version); err != nil || p.Version == "" {
		return p, fmt.Errorf("%w: %s: bad Version %q", ErrMalformed, p.Name, p.Version)
	}
	if len(p.SHA256) != 64 || strings.Trim(p.SHA256, "0123456789abcdef") != "" {
		return p, fmt.Errorf("%w: %s: bad SHA256", ErrMalformed, p.Name)
	}
	if p.Filename == "" || strings.Contains(p.Filename, "..") {
		return p, fmt.Errorf("%w: %s: bad Filename %q", ErrMalformed, p.Name, p.Filename)
	}
	return p, nil
}

// CompareVersions orders two Debian version strings as dpkg does. A version
// that does not parse sorts first.
func CompareVersions(a, b string) int {
	va, errA := version.Parse(a)
	vb, errB := version.Parse(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return version.Compare(va, vb)
}

// Dependency is one alternative-free entry of a Depends field.
type Dependency struct {
	Name     string
	Relation string // "=", ">=", "<<", ... or "" for any version
	Version  string
}

// ParseDepends parses a Depends field, keeping the first alternative of each
// entry ("a | b" yields a).
func ParseDepends(s string) []Dependency {
	var out []Dependency
	for _, entry := range strings.Split(s, ",") {
		alt, _, _ := strings.Cut(entry, "|")
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		d := Dependency{Name: alt}
		if i := strings.IndexByte(alt, '('); i >= 0 {
			d.Name = strings.TrimSpace(alt[:i])
			rel := strings.TrimSuffix(strings.TrimSpace(alt[i+1:]), ")")
			f := strings.Fields(rel)
			if len(f) == 2 {
				d.Relation, d.Version = f[0], f[1]
			}
		}
		if j := strings.IndexByte(d.Name, ':'); j >= 0 { // name:any
			d.Name = d.Name[:j]
		}
		out = append(out, d)
	}
	return out
}

// Satisfies reports whether version v satisfies the dependency's relation.
func (d Dependency) Satisfies(v string) bool {
	if d.Relation == "" {
		return true
	}
	c := CompareVersions(v, d.Version)
	switch d.Relation {
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	case ">>":
		return c > 0
	case "<<":
		return c < 0
	}
	return false
}

// Upstream returns the upstream part of a Debian version: 6.1.192-3 gives
// 6.1.192.
func Upstream(v string) string {
	if i := strings.LastIndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return v
}
