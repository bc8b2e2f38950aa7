package report

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/coverage/kmod/ holds the bundled driver's sources that the
// coverage fixture's report.json counts lines of. They must be kmod/'s
// own: a change to the driver must come with a new fixture run, else the
// reports' tests show line counts of code that no longer exists.
func TestCoverageFixtureSourcesAreKmods(t *testing.T) {
	copyDir := filepath.Join("testdata", "coverage", "kmod")
	kmod := filepath.Join("..", "..", "kmod")
	copied := map[string]bool{}
	err := filepath.WalkDir(copyDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(copyDir, p)
		if err != nil {
			return err
		}
		copied[filepath.ToSlash(rel)] = true
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(filepath.Join(kmod, rel))
		switch {
		case err != nil:
			t.Errorf("%s has no original in kmod/: %v", p, err)
		case !bytes.Equal(got, want):
			t.Errorf("%s differs from kmod/%s: refresh testdata/coverage with a new run (see coverageFixture)", p, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ReadFile(filepath.Join("testdata", "coverage", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.Kernels {
		for _, f := range k.Coverage {
			if _, rel, _ := strings.Cut(f.Path, "/kmod/"); !copied[rel] {
				t.Errorf("report.json counts lines of %s, which testdata/coverage/kmod lacks", f.Path)
			}
		}
	}
	if len(copied) == 0 {
		t.Error("testdata/coverage/kmod holds no sources")
	}
}
