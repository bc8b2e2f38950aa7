package debian

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildDeb makes a real package with dpkg-deb from files (path in the
// package -> content).
func buildDeb(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed (make deps)")
	}
	root := filepath.Join(t.TempDir(), "pkg")
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755)
	control := "Package: kmodvm-test\nVersion: 1\nArchitecture: all\nMaintainer: kmodvm <kmodvm@example.org>\nDescription: test\n"
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), "test.deb")
	if out, err := exec.Command("dpkg-deb", "-Zxz", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	return deb
}

func TestExtractFilesTakesOnlyTheWantedMembersFlat(t *testing.T) {
	deb := buildDeb(t, map[string]string{
		"usr/lib/debug/boot/vmlinux-6.1.0-57-amd64":    "ELF with DWARF",
		"usr/lib/debug/boot/System.map-6.1.0-57-amd64": "ffffffff81000000 T _text\n",
		"usr/lib/debug/lib/modules/x.ko":               "module",
	})
	dir := t.TempDir()
	want := map[string]string{
		"./usr/lib/debug/boot/vmlinux-6.1.0-57-amd64":    "vmlinux",
		"./usr/lib/debug/boot/System.map-6.1.0-57-amd64": "System.map",
	}
	got, err := ExtractFiles(t.Context(), deb, dir,
		func(m string) (string, bool) { n, ok := want[m]; return n, ok },
		func(got map[string]bool) bool { return len(got) == len(want) })
	if err != nil {
		t.Fatal(err)
	}
	if !got["vmlinux"] || !got["System.map"] || len(got) != 2 {
		t.Fatalf("extracted %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "vmlinux")); string(b) != "ELF with DWARF" {
		t.Errorf("vmlinux holds %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("%d files in the target directory, want 2", len(ents))
	}
}

// A package without the wanted member is read to its end, and the caller
// sees what was missing; a file that is not a package is an error that
// names it.
func TestExtractFilesReportsWhatIsMissing(t *testing.T) {
	deb := buildDeb(t, map[string]string{"usr/share/doc/x": "doc"})
	got, err := ExtractFiles(t.Context(), deb, t.TempDir(),
		func(m string) (string, bool) { return "vmlinux", strings.HasSuffix(m, "/vmlinux") },
		func(got map[string]bool) bool { return got["vmlinux"] })
	if err != nil || got["vmlinux"] {
		t.Fatalf("got %v, %v; want nothing and no error", got, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.deb")
	os.WriteFile(bad, []byte("not a package"), 0o644)
	if _, err := ExtractFiles(t.Context(), bad, t.TempDir(),
		func(string) (string, bool) { return "", false },
		func(map[string]bool) bool { return false }); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a corrupt package gave %v, want an error naming it", err)
	}
}
