package kbuild_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// seedDivision copies kmod/ and applies testdata/div64's sed script: the
// driver's read then divides its 64-bit file position in plain C.
func seedDivision(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "div64")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "kmod"))); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "mmapdrv.c")
	script := filepath.Join("..", "..", "testdata", "div64", "percent.sed")
	if out, err := exec.Command("sed", "-i", "-f", script, src).CombinedOutput(); err != nil {
		t.Fatalf("sed: %v\n%s", err, out)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "*ppos * 100 / drv->size") {
		t.Fatal("the sed script no longer seeds the division into kmod/mmapdrv.c's read: update testdata/div64")
	}
	return dir
}

// A 64-bit division in plain C builds for a 64-bit kernel and fails
// modpost for a 32-bit one, whose error names libgcc's helper the
// compiler called: the portability bug only a 32-bit build shows.
func TestA64BitDivisionBuildsOn64BitKernelsOnly(t *testing.T) {
	src := seedDivision(t)
	for _, c := range []struct {
		arch   string
		helper string // the undefined helper modpost names; "" for a build
	}{
		{"amd64", ""},
		{"i386", "__divdi3"},
		{"armhf", "__aeabi_ldivmod"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			k := kerneltest.GetFor(t, "6.1", c.arch)
			r, err := kbuild.Build(t.Context(), k, toolchainFor(t, k), kbuild.Options{Source: src, Out: t.TempDir()})
			if c.helper == "" {
				if err != nil {
					t.Fatalf("%s: %v", k.Name, err)
				}
				return
			}
			if !errors.Is(err, kbuild.ErrBuild) {
				t.Fatalf("%s: err = %v, want ErrBuild", k.Name, err)
			}
			named := slices.ContainsFunc(r.Errors, func(d kbuild.Diagnostic) bool {
				return d.File == "modpost" && strings.Contains(d.Message, `"`+c.helper+`"`) && strings.Contains(d.Message, "undefined")
			})
			if !named || !strings.Contains(err.Error(), c.helper) {
				t.Errorf("%s: errors %+v, err %v: want modpost's undefined %s", k.Name, r.Errors, err, c.helper)
			}
		})
	}
}
