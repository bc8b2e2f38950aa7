package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// projectFileFor is a kmodvm.toml that runs faultmod and its guest tests
// on 6.1 and allows faultmod's WARNING until expires; the [[allow]]
// header is on line 5.
func projectFileFor(t *testing.T, expires string) string {
	return fmt.Sprintf(`kernels = ["6.1"]
modules = [%q]
tests = [%q]

[[allow]]
title = '^WARNING in faultmod_ioctl$'
reason = "faultmod warns on purpose"
expires = %s
`, repo(t, "testdata/faultmod"), repo(t, "testdata/faultmod/guest"), expires)
}

// TestCLIProjectFileAllowList runs a plain `kmodvm run` (but for the
// test's selection and the cache and output directories) below a
// directory whose kmodvm.toml names the kernel, the module and its tests
// and allows the WARNING the test provokes: the run passes, and the
// finding is reported allowed; once the entry has expired, it allows
// nothing, and the run fails with a message naming the entry and its
// expiry.
func TestCLIProjectFileAllowList(t *testing.T) {
	for _, c := range []struct {
		name, expires string
		code          int
		status        report.Status
		says          []string // on stdout for exit 0, else on stderr
	}{
		{"allowed", "2999-12-31", exitOK, report.Pass, []string{
			"🐞 WARNING in faultmod_ioctl (during guest: TestWarnDuringPassingTest), allowed until 2999-12-31 by ../kmodvm.toml:5: faultmod warns on purpose",
			"findings  1 (1 allowed)",
		}},
		{"expired", "2000-01-01", exitFailed, report.Fail, []string{
			"kmodvm: ../kmodvm.toml:5: the allow-list entry /^WARNING in faultmod_ioctl$/ (faultmod warns on purpose) expired on 2000-01-01; it still matches 1 finding(s) of this run",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			proj, out := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(proj, "kmodvm.toml"), []byte(projectFileFor(t, c.expires)), 0o644); err != nil {
				t.Fatal(err)
			}
			sub := filepath.Join(proj, "sub")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd, stdout, stderr := kmodvmIn(t, sub, nil, "run", "--test-arg", "-test.run=^TestWarnDuringPassingTest$", "--out", out, "--cache", kernel.DefaultCacheDir())
			b, _ := io.ReadAll(stderr)
			r := finish(t, cmd, stdout, string(b), out)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.code, c.code, tail(r.stderr, 15))
			}
			if !strings.Contains(r.stderr, "kmodvm: settings from ../kmodvm.toml") {
				t.Errorf("stderr does not say where the settings came from")
			}
			said := map[bool]string{true: r.stdout, false: r.stderr}[c.code == exitOK]
			for _, s := range c.says {
				if !strings.Contains(said, s) {
					t.Errorf("the output lacks %q", s)
				}
			}
			if r.report == nil || len(r.report.Kernels) != 1 {
				t.Fatalf("report.json: %+v", r.report)
			}
			k := r.report.Kernels[0]
			if k.Status != c.status {
				t.Errorf("kernel %s: %s (%s), want %s", k.Name, k.Status, k.Error, c.status)
			}
			warned := false
			for _, f := range k.Findings {
				if f.Title != "WARNING in faultmod_ioctl" {
					continue
				}
				warned = true
				if allowed := f.Allowed != nil; allowed != (c.code == exitOK) {
					t.Errorf("the WARNING allowed: %v (%+v)", allowed, f.Allowed)
				}
			}
			if !warned {
				t.Errorf("no WARNING in faultmod_ioctl among the findings: %+v", k.Findings)
			}
		})
	}
}
