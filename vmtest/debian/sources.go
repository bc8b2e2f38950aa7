package debian

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Suites returns the archive suites an Archive indexes, oldest first. Each
// has its own kernels: bullseye 5.10, bookworm 6.1 and 6.12, trixie 6.12,
// trixie-backports and sid 6.19 and 7.x.
func Suites() []string {
	return []string{
		"bullseye", "bullseye-security",
		"bookworm", "bookworm-security",
		"trixie", "trixie-backports",
		"sid",
	}
}

// Environment variables that override the mirrors found in the host's apt
// sources.
const (
	EnvMirror         = "KMODVM_DEBIAN_MIRROR"
	EnvSecurityMirror = "KMODVM_DEBIAN_SECURITY_MIRROR"
)

// ErrNoMirror means no Debian mirror could be found.
var ErrNoMirror = errors.New("no Debian mirror found in the host's apt sources; set " + EnvMirror)

// Mirrors are the archive's two base URIs: the main archive and the security
// archive.
type Mirrors struct {
	Main     string
	Security string
}

// uriFor returns the base URI that serves suite.
func (m Mirrors) uriFor(suite string) string {
	if strings.HasSuffix(suite, "-security") {
		return m.Security
	}
	return m.Main
}

// HostMirrors finds the mirrors to use: the environment first, then the
// host's apt sources (one-line and deb822 formats). No mirror host name is
// built into kmodvm: users of a private mirror or a proxy get theirs.
func HostMirrors() (Mirrors, error) {
	var m Mirrors
	if v := os.Getenv(EnvMirror); v != "" {
		m.Main = strings.TrimRight(v, "/")
	}
	if v := os.Getenv(EnvSecurityMirror); v != "" {
		m.Security = strings.TrimRight(v, "/")
	}
	if m.Main == "" || m.Security == "" {
		uris := hostSourceURIs("/etc/apt")
		if m.Main == "" {
			m.Main = pickURI(uris, false)
		}
		if m.Security == "" {
			m.Security = pickURI(uris, true)
		}
	}
	if m.Main == "" {
		return m, ErrNoMirror
	}
	if m.Security == "" {
		// Debian's mirrors serve the security archive beside the main one.
		m.Security = strings.TrimSuffix(m.Main, "/debian") + "/debian-security"
	}
	return m, nil
}

// pickURI chooses a Debian archive URI: one whose path ends in /debian (or
// /debian-security when security is set).
func pickURI(uris []string, security bool) string {
	want := "/debian"
	if security {
		want = "/debian-security"
	}
	for _, u := range uris {
		if strings.HasSuffix(strings.TrimRight(u, "/"), want) {
			return strings.TrimRight(u, "/")
		}
	}
	return ""
}

// hostSourceURIs lists the URIs of every "deb" source under etc.
func hostSourceURIs(etc string) []string {
	var uris []string
	files := []string{filepath.Join(etc, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(etc, "sources.list.d", "*"))
	files = append(files, more...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.HasSuffix(f, ".sources") {
			uris = append(uris, deb822URIs(string(b))...)
		} else if strings.HasSuffix(f, ".list") {
			uris = append(uris, oneLineURIs(string(b))...)
		}
	}
	return uris
}

// oneLineURIs parses "deb [options] uri suite components" lines.
func oneLineURIs(text string) []string {
	var uris []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		i := 1
		if strings.HasPrefix(f[i], "[") {
			for i < len(f) && !strings.HasSuffix(f[i], "]") {
				i++
			}
			i++
		}
		if i < len(f) {
			uris = append(uris, f[i])
		}
	}
	return uris
}

// deb822URIs parses the URIs of "Types: deb" stanzas.
func deb822URIs(text string) []string {
	var uris []string
	for _, stanza := range strings.Split(text, "\n\n") {
		var isDeb bool
		var stanzaURIs []string
		for _, line := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "types":
				for _, t := range strings.Fields(v) {
					isDeb = isDeb || t == "deb"
				}
			case "uris":
				stanzaURIs = append(stanzaURIs, strings.Fields(v)...)
			case "enabled":
				if strings.TrimSpace(v) == "no" {
					isDeb = false
					stanzaURIs = nil
				}
			}
		}
		if isDeb {
			uris = append(uris, stanzaURIs...)
		}
	}
	return uris
}

// sourcesList renders a one-line sources.list for suites.
func sourcesList(m Mirrors, suites []string, keyring string) string {
	var b strings.Builder
	for _, s := range suites {
		opt := ""
		if keyring != "" {
			opt = fmt.Sprintf("[signed-by=%s] ", keyring)
		}
		fmt.Fprintf(&b, "deb %s%s %s main\n", opt, m.uriFor(s), s)
	}
	return b.String()
}
