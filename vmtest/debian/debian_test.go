package debian

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name, suite string) []Package {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := ParsePackages(f, suite, IsKernelPackage)
	if err != nil {
		t.Fatalf("ParsePackages(%s): %v", name, err)
	}
	return pkgs
}

func TestParsePackagesKeepsOnlyKernelPackages(t *testing.T) {
	pkgs := readFixture(t, "Packages.bookworm-security", "bookworm-security")
	if len(pkgs) != 10 {
		t.Fatalf("got %d packages, want the 10 kernel ones (hostname skipped)", len(pkgs))
	}
	var img Package
	for _, p := range pkgs {
		if p.Name == "hostname" {
			t.Errorf("non-kernel package kept: %v", p)
		}
		if p.Name == "linux-image-6.1.0-57-amd64-unsigned" {
			img = p
		}
	}
	want := Package{
		Name: "linux-image-6.1.0-57-amd64-unsigned", Version: "6.1.192-3", Arch: "amd64",
		Suite: "bookworm-security", Source: "linux",
		Depends:  "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool",
		Filename: "pool/updates/main/l/linux/linux-image-6.1.0-57-amd64-unsigned_6.1.192-3_amd64.deb",
		Size:     70584724, SHA256: "f43a8dbe0b318a5491880233bb20982dc9cc8ef103dd361cd56499eea15c5191",
	}
	if !reflect.DeepEqual(img, want) {
		t.Errorf("image package:\n got %+v\nwant %+v", img, want)
	}
}

func TestParsePackagesRejectsMalformedKernelParagraphs(t *testing.T) {
	good := "Package: linux-kbuild-6.1\nVersion: 6.1.192-3\nFilename: pool/x.deb\nSize: 10\nSHA256: " + strings.Repeat("ab", 32) + "\n"
	cases := map[string]string{
		"no size":      strings.Replace(good, "Size: 10\n", "", 1),
		"zero size":    strings.Replace(good, "Size: 10", "Size: 0", 1),
		"bad version":  strings.Replace(good, "6.1.192-3", "", 1),
		"short sha256": strings.Replace(good, strings.Repeat("ab", 32), "abcd", 1),
		"path escape":  strings.Replace(good, "pool/x.deb", "../../etc/passwd", 1),
	}
	for name, para := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePackages(strings.NewReader(para), "s", IsKernelPackage)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
	if pkgs, err := ParsePackages(strings.NewReader(good+"\n\n"+strings.Replace(good, "Size: 10\n", "", 1)), "s", func(string) bool { return false }); err != nil || len(pkgs) != 0 {
		t.Errorf("unkept malformed paragraph: pkgs=%v err=%v, want ignored", pkgs, err)
	}
}

func TestCompareVersionsOrdersAsDpkg(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"6.1.192-3", "6.1.176-1", 1},
		{"6.12.117-1", "6.12.117-1~deb12u1", 1}, // ~ sorts before anything
		{"7.3.4-1~bpo13+1", "7.3.4-1", -1},
		{"6.1.192-3", "6.1.192-3", 0},
		{"1:1.0-1", "2.0-1", 1}, // epoch wins
		{"5.10.262-1", "6.1.0-1", -1},
		{"not a version!", "1.0", -1},
	}
	for _, c := range cases {
		if got := sign(CompareVersions(c.a, c.b)); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestUpstreamDropsTheEpochAndTheDebianRevision(t *testing.T) {
	for v, want := range map[string]string{
		"6.1.192-3":       "6.1.192",
		"7.3.4-1~bpo13+1": "7.3.4",
		"1:2.0-1":         "2.0",
		"6.12.117":        "6.12.117",
	} {
		if got := Upstream(v); got != want {
			t.Errorf("Upstream(%q) = %q, want %q", v, got, want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestParseDependsTakesFirstAlternativeAndRelations(t *testing.T) {
	got := ParseDepends("kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120) | linux-initramfs-tool, gcc-14-for-host:any, linux-kbuild-6.1 (= 6.1.192-3)")
	want := []Dependency{
		{Name: "kmod"},
		{Name: "linux-base", Relation: ">=", Version: "4.3~"},
		{Name: "initramfs-tools", Relation: ">=", Version: "0.120"},
		{Name: "gcc-14-for-host"},
		{Name: "linux-kbuild-6.1", Relation: "=", Version: "6.1.192-3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDepends:\n got %+v\nwant %+v", got, want)
	}
	if !want[1].Satisfies("4.3") || want[4].Satisfies("6.1.192-2") || !want[4].Satisfies("6.1.192-3") {
		t.Error("Satisfies does not follow the relations")
	}
}

func TestHostSourceURIsReadsBothFormats(t *testing.T) {
	got := hostSourceURIs("testdata/etc")
	want := []string{"http://mirror.example/debian", "http://other.example/debian-security", "https://vendor.example/apt"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hostSourceURIs = %q, want %q", got, want)
	}
	if m := pickURI(got, false); m != "http://mirror.example/debian" {
		t.Errorf("main mirror = %q", m)
	}
	if m := pickURI(got, true); m != "http://other.example/debian-security" {
		t.Errorf("security mirror = %q", m)
	}
}

func TestMirrorsFromEnvironment(t *testing.T) {
	t.Setenv(EnvMirror, "http://proxy.example/debian/")
	t.Setenv(EnvSecurityMirror, "")
	m, err := HostMirrors()
	if err != nil {
		t.Fatal(err)
	}
	if m.Main != "http://proxy.example/debian" {
		t.Errorf("Main = %q", m.Main)
	}
	if !strings.HasSuffix(m.Security, "-security") {
		t.Errorf("Security = %q, want a -security URI", m.Security)
	}
}

// The hostname package is a real .deb from bookworm; its size and checksum
// are the archive's (see testdata/Packages.bookworm-security).
const (
	realDeb     = "testdata/hostname_3.23+nmu1_amd64.deb"
	realDebSize = 10500
	realDebSum  = "17d9a2f3c05004499d80e180d2440fd716f84c32b65f09d96c9a024af4d1d0e7"
)

func TestVerifyFileAcceptsTheArchiveChecksum(t *testing.T) {
	if err := VerifyFile(realDeb, realDebSize, realDebSum); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFileRejectsCorruptAndTruncatedDownloads(t *testing.T) {
	b, err := os.ReadFile(realDeb)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)/2] ^= 0xff
	cases := map[string][]byte{
		"flipped byte": flipped,
		"truncated":    b[:len(b)-100],
		"empty":        nil,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := VerifyFile(p, realDebSize, realDebSum); !errors.Is(err, ErrChecksum) {
				t.Errorf("VerifyFile = %v, want ErrChecksum", err)
			}
		})
	}
}

func TestExtractUnpacksARealPackage(t *testing.T) {
	dir := t.TempDir()
	if err := Extract(t.Context(), realDeb, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "hostname")); err != nil {
		t.Errorf("bin/hostname not unpacked: %v", err)
	}
}

func TestExtractRejectsATruncatedPackage(t *testing.T) {
	b, err := os.ReadFile(realDeb)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "short.deb")
	if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Extract(t.Context(), p, t.TempDir()); err == nil {
		t.Error("Extract of a truncated .deb succeeded")
	}
}

func TestIndexLookupIsNewestFirst(t *testing.T) {
	ix := &Index{Packages: append(readFixture(t, "Packages.bookworm-security", "bookworm-security"),
		readFixture(t, "Packages.bookworm", "bookworm")...)}
	got := ix.Lookup("linux-kbuild-6.1")
	if len(got) < 2 {
		t.Fatalf("Lookup found %d versions, want several", len(got))
	}
	for i := 1; i < len(got); i++ {
		if CompareVersions(got[i-1].Version, got[i].Version) < 0 {
			t.Errorf("not newest first: %s before %s", got[i-1].Version, got[i].Version)
		}
	}
}

func FuzzParsePackages(f *testing.F) {
	for _, name := range []string{"Packages.bookworm", "Packages.bookworm-security", "Packages.trixie-backports", "Packages.bullseye-security"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Package: linux-image-1.0-1-amd64-unsigned\nSize: x\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParsePackages(strings.NewReader(string(data)), "fuzz", func(string) bool { return true })
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Size <= 0 || len(p.SHA256) != 64 || p.Name == "" {
				t.Errorf("accepted an invalid package: %+v", p)
			}
		}
	})
}

func TestAptFailureGivesOneLineCause(t *testing.T) {
	out := `Ign:1 http://127.0.0.1:9/debian bullseye InRelease
Get:6 http://deb.debian.org/debian-security bullseye-security InRelease [27.1 kB]
Err:1 http://127.0.0.1:9/debian bullseye InRelease
  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)
Err:2 http://127.0.0.1:9/debian bookworm InRelease
  Unable to connect to 127.0.0.1:9:
Reading package lists...
`
	want := "http://127.0.0.1:9/debian bullseye InRelease: Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)"
	if got := aptFailure(out); got != want {
		t.Errorf("aptFailure = %q, want %q", got, want)
	}
	if got := aptFailure("Hit:1 http://x/debian sid InRelease\nReading package lists...\n"); got != "" {
		t.Errorf("aptFailure of a clean update = %q", got)
	}
}

func TestUpdateFromAnUnreachableMirrorFailsInOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apt-get")
	}
	a := &Archive{Dir: t.TempDir(), Mirrors: Mirrors{Main: "http://127.0.0.1:9/debian", Security: "http://127.0.0.1:9/debian-security"}, Suites: []string{"bookworm"}}
	_, err := a.Update(t.Context())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Update = %v, want ErrUnreachable", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "127.0.0.1:9") {
		t.Errorf("error is not one line naming the mirror: %q", err)
	}
}

func TestIndexIsCurrentOnlyForTheMirrorsInForceAndWhileFresh(t *testing.T) {
	m := Mirrors{Main: "http://a.example/debian", Security: "http://a.example/debian-security"}
	a := &Archive{Mirrors: m}
	if !a.Current(&Index{Format: indexFormat, Mirrors: m, Architectures: Architectures(), Updated: time.Now()}, time.Hour) {
		t.Error("a fresh index of the same mirrors is not current")
	}
	if a.Current(&Index{Mirrors: m, Updated: time.Now().Add(-2 * time.Hour)}, time.Hour) {
		t.Error("a stale index is current")
	}
	other := Mirrors{Main: "http://b.example/debian", Security: "http://b.example/debian-security"}
	if a.Current(&Index{Mirrors: other, Updated: time.Now()}, time.Hour) {
		t.Error("an index made for other mirrors is current")
	}
	fewer := Architectures()[:1]
	if a.Current(&Index{Format: indexFormat, Mirrors: m, Architectures: fewer, Updated: time.Now()}, time.Hour) {
		t.Errorf("an index of %q alone is current; kmodvm knows %q", fewer, Architectures())
	}
}

// apt-get download takes each package of the architecture it was indexed
// for: linux-kbuild-6.1 exists for amd64 and arm64 alike.
func TestAptNameQualifiesTheArchitecture(t *testing.T) {
	for _, c := range []struct {
		p    Package
		want string
	}{
		{Package{Name: "linux-kbuild-6.1", Version: "6.1.192-3", Arch: "amd64"}, "linux-kbuild-6.1:amd64=6.1.192-3"},
		{Package{Name: "linux-image-6.1.0-57-arm64-unsigned", Version: "6.1.192-3", Arch: "arm64"}, "linux-image-6.1.0-57-arm64-unsigned:arm64=6.1.192-3"},
		{Package{Name: "linux-headers-6.1.0-57-common", Version: "6.1.192-3", Arch: "all"}, "linux-headers-6.1.0-57-common=6.1.192-3"},
	} {
		if got := c.p.aptName(); got != c.want {
			t.Errorf("aptName = %s, want %s", got, c.want)
		}
	}
}
