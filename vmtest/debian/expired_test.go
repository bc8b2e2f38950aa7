package debian

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// kernelParagraph is a linux-image package of bookworm's index: one kernel
// a suite of the test's mirror offers.
func kernelParagraph(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/Packages.bookworm")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(string(b), "\n\n") {
		if strings.HasPrefix(p, "Package: linux-image-6") {
			return p + "\n\n"
		}
	}
	t.Fatal("no linux-image paragraph in testdata/Packages.bookworm")
	return ""
}

// signedMirror serves a mirror whose suites each offer one kernel, their
// InRelease files signed by a key made for the test and each valid until
// the time suites gives it; it returns the mirror's URL and the keyring
// that verifies it. The lists absent names ("<suite> <architecture>") are
// in the Release files but not served.
func signedMirror(t *testing.T, suites map[string]time.Time, absent ...string) (url, keyring string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("needs gpg")
	}
	home, root := t.TempDir(), t.TempDir()
	gpg := func(args ...string) {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	gpg("--quick-gen-key", "kmodvm test <test@kmodvm.invalid>", "ed25519", "sign", "never")
	keyring = filepath.Join(t.TempDir(), "test.gpg")
	gpg("--output", keyring, "--export")
	kernel := kernelParagraph(t)
	for suite, validUntil := range suites {
		dists := filepath.Join(root, "debian", "dists", suite)
		release := fmt.Sprintf("Suite: %s\nCodename: %[1]s\nDate: %s\nValid-Until: %s\nArchitectures: %s\nComponents: main\nSHA256:\n",
			suite, time.Now().Add(-10*24*time.Hour).UTC().Format(time.RFC1123), validUntil.UTC().Format(time.RFC1123), strings.Join(Architectures(), " "))
		for _, a := range Architectures() {
			rel := "main/binary-" + a + "/Packages"
			pkgs := []byte(strings.ReplaceAll(kernel, "Architecture: amd64", "Architecture: "+a))
			if err := os.MkdirAll(filepath.Join(dists, filepath.Dir(rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(absent, suite+" "+a) {
				if err := os.WriteFile(filepath.Join(dists, rel), pkgs, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			release += fmt.Sprintf(" %x %d %s\n", sha256.Sum256(pkgs), len(pkgs), rel)
		}
		if err := os.WriteFile(filepath.Join(dists, "Release"), []byte(release), 0o644); err != nil {
			t.Fatal(err)
		}
		gpg("--output", filepath.Join(dists, "InRelease"), "--clearsign", filepath.Join(dists, "Release"))
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(srv.Close)
	return srv.URL, keyring
}

// apt takes no index past its Valid-Until date: an update leaves out the
// suites whose index expired and says so, and what to do; it fails, in one
// line, when every suite's has. EnvAllowExpired lets a pinned mirror's
// through.
func TestUpdateLeavesOutAnExpiredIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apt-get")
	}
	week, expired := time.Now().Add(7*24*time.Hour), time.Now().Add(-3*24*time.Hour)
	for _, c := range []struct {
		name   string
		suites map[string]time.Time
		allow  bool
		want   []string // the suites indexed; nil: the update fails
	}{
		{"both valid", map[string]time.Time{"trixie": week, "sid": week}, false, []string{"sid", "trixie"}},
		{"sid expired three days ago", map[string]time.Time{"trixie": week, "sid": expired}, false, []string{"trixie"}},
		{"the only suite expired", map[string]time.Time{"sid": expired}, false, nil},
		{"sid expired and allowed for a pinned mirror", map[string]time.Time{"trixie": week, "sid": expired}, true, []string{"sid", "trixie"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, keyring := signedMirror(t, c.suites)
			if c.allow {
				t.Setenv(EnvAllowExpired, "1")
			}
			var suites []string
			for s := range c.suites {
				suites = append(suites, s)
			}
			a := &Archive{Dir: t.TempDir(), Mirrors: Mirrors{Main: url + "/debian", Security: url + "/debian-security"}, Suites: suites, Keyring: keyring}
			ix, err := a.Update(t.Context())
			if c.want == nil {
				if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "/sid/InRelease expired 3d") || !strings.Contains(err.Error(), EnvAllowExpired) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Update: %v; want one line saying sid's index expired and what to do", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ix.Packages {
				if !slices.Contains(got, p.Suite) {
					got = append(got, p.Suite)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("indexed %v, want %v", got, c.want)
			}
			if leftOut := len(c.want) < len(c.suites); leftOut != strings.Contains(ix.Expired, "/sid/InRelease expired 3d") {
				t.Errorf("Index.Expired = %q", ix.Expired)
			}
		})
	}
}

func TestAptWithoutTheArchiveKeyringNamesThePackage(t *testing.T) {
	a := &Archive{Dir: t.TempDir(), Mirrors: Mirrors{Main: "http://127.0.0.1:9/debian"}, Keyring: filepath.Join(t.TempDir(), "none.gpg")}
	if _, err := a.Update(t.Context()); err == nil || !strings.Contains(err.Error(), "debian-archive-keyring") {
		t.Errorf("Update without a keyring: %v, want the package named", err)
	}
}
