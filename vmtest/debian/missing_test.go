package debian

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A mirror that does not serve one architecture's list of a suite (as a
// mirror keeping some architectures answers 404) leaves that suite's
// kernels out, as apt takes none of its lists, says so, and indexes the
// other suites.
func TestUpdateLeavesOutAListTheMirrorLacks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apt-get")
	}
	other := Architectures()[len(Architectures())-1]
	week := time.Now().Add(7 * 24 * time.Hour)
	for _, c := range []struct{ name, absent string }{
		{"another architecture's list", "sid " + other},
		{"the host's list", "sid " + Architectures()[0]},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, keyring := signedMirror(t, map[string]time.Time{"trixie": week, "sid": week}, c.absent)
			a := &Archive{Dir: t.TempDir(), Mirrors: Mirrors{Main: url + "/debian", Security: url + "/debian-security"}, Suites: []string{"sid", "trixie"}, Keyring: keyring}
			ix, err := a.Update(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(ix.Missing, "the Packages lists of sid") {
				t.Errorf("Index.Missing = %q, want sid named", ix.Missing)
			}
			var got []string
			for _, p := range ix.Packages {
				got = append(got, p.Suite+" "+p.Arch)
			}
			if slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "sid ") }) || !slices.Contains(got, "trixie "+other) {
				t.Errorf("indexed %q: want trixie's lists, none of sid's", got)
			}
		})
	}
}
