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
	"strings"
	"testing"
	"time"
)

// signedMirror serves a mirror of one suite, sid, whose InRelease is
// signed by a key made for the test and valid until validUntil, and
// returns its URL and the keyring that verifies it.
func signedMirror(t *testing.T, validUntil time.Time) (url, keyring string) {
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
	dists := filepath.Join(root, "debian", "dists", "sid")
	release := fmt.Sprintf("Origin: test\nSuite: sid\nCodename: sid\nDate: %s\nValid-Until: %s\nArchitectures: %s\nComponents: main\nSHA256:\n",
		time.Now().Add(-10*24*time.Hour).UTC().Format(time.RFC1123), validUntil.UTC().Format(time.RFC1123), strings.Join(Architectures(), " "))
	for _, a := range Architectures() {
		rel := "main/binary-" + a + "/Packages"
		p := filepath.Join(dists, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// One package, no kernel: apt keeps no empty list.
		pkgs := []byte("Package: hello\nVersion: 1.0\nArchitecture: " + a + "\nFilename: pool/h/hello.deb\nSize: 1\nSHA256: " + strings.Repeat("0", 64) + "\n\n")
		if err := os.WriteFile(p, pkgs, 0o644); err != nil {
			t.Fatal(err)
		}
		release += fmt.Sprintf(" %x %d %s\n", sha256.Sum256(pkgs), len(pkgs), rel)
	}
	if err := os.WriteFile(filepath.Join(dists, "Release"), []byte(release), 0o644); err != nil {
		t.Fatal(err)
	}
	gpg("--output", filepath.Join(dists, "InRelease"), "--clearsign", filepath.Join(dists, "Release"))
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(srv.Close)
	return srv.URL, keyring
}

// apt takes no index past its Valid-Until date, and says what to do;
// EnvAllowExpired lets a pinned mirror's through.
func TestUpdateRefusesAnExpiredIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apt-get")
	}
	for _, c := range []struct {
		name        string
		validUntil  time.Duration // from now
		allow       bool
		wantExpired bool
	}{
		{"valid for a week", 7 * 24 * time.Hour, false, false},
		{"expired three days ago", -3 * 24 * time.Hour, false, true},
		{"expired and allowed for a pinned mirror", -3 * 24 * time.Hour, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, keyring := signedMirror(t, time.Now().Add(c.validUntil))
			if c.allow {
				t.Setenv(EnvAllowExpired, "1")
			}
			a := &Archive{Dir: t.TempDir(), Mirrors: Mirrors{Main: url + "/debian", Security: url + "/debian-security"}, Suites: []string{"sid"}, Keyring: keyring}
			_, err := a.Update(t.Context())
			t.Log(err)
			if got := errors.Is(err, ErrExpired); got != c.wantExpired {
				t.Fatalf("Update: %v; want expired %v", err, c.wantExpired)
			}
			if c.wantExpired && (!strings.Contains(err.Error(), "/sid/InRelease expired 3d") || !strings.Contains(err.Error(), EnvAllowExpired) || strings.Contains(err.Error(), "\n")) {
				t.Errorf("the error does not say in one line what expired and what to do: %v", err)
			}
			// The mirror serves no kernel: an index that got through ends
			// there.
			if !c.wantExpired && (err == nil || !strings.Contains(err.Error(), "no kernel packages")) {
				t.Errorf("Update: %v, want it to have read the (empty) lists", err)
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
