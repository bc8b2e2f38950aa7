package srcbuild

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

func TestMissingNamesEveryOptionThatDidNotTake(t *testing.T) {
	fragment := "# why\nCONFIG_KASAN=y\nCONFIG_KASAN_INLINE=y\nCONFIG_FRAME_WARN=2048\n# CONFIG_KASAN_OUTLINE is not set\n# CONFIG_GCOV_PROFILE_ALL is not set\n"
	final := "CONFIG_KASAN=y\n# CONFIG_KASAN_INLINE is not set\nCONFIG_KASAN_OUTLINE=y\nCONFIG_FRAME_WARN=1024\n"
	got := Missing(fragment, final)
	want := []string{"CONFIG_KASAN_INLINE=y (not set)", "CONFIG_FRAME_WARN=2048 (is 1024)", "CONFIG_KASAN_OUTLINE unset (is y)"}
	if !slices.Equal(got, want) {
		t.Errorf("Missing = %q, want %q", got, want)
	}
	if m := Missing(fragment, "CONFIG_KASAN=y\nCONFIG_KASAN_INLINE=y\nCONFIG_FRAME_WARN=2048\n"); len(m) != 0 {
		t.Errorf("a config with everything reports %q", m)
	}
}

func TestEveryVariantsFilesAreEmbedded(t *testing.T) {
	for name, v := range variants {
		for _, f := range v.fragmentFiles() {
			b, err := configs.ReadFile(f)
			if err != nil || !strings.Contains(string(b), "CONFIG_") {
				t.Errorf("%s: %s: %v", name, f, err)
			}
		}
	}
}

func TestKCSANAndKASANAreNeverCombined(t *testing.T) {
	for name, v := range variants {
		has := map[string]bool{}
		for _, f := range v.fragmentFiles() {
			b, _ := configs.ReadFile(f)
			has["kasan"] = has["kasan"] || strings.Contains(string(b), "CONFIG_KASAN=y")
			has["kcsan"] = has["kcsan"] || strings.Contains(string(b), "CONFIG_KCSAN=y")
		}
		if has["kasan"] && has["kcsan"] {
			t.Errorf("variant %s asks for KASAN and KCSAN, which Kconfig forbids", name)
		}
	}
}

func TestSourceForPrefersTheStockVersionAndSaysWhenItCannot(t *testing.T) {
	ix := &debian.Index{Packages: []debian.Package{
		{Name: "linux-source-6.1", Version: "6.1.194-1"},
		{Name: "linux-source-6.1", Version: "6.1.192-3"},
		{Name: "linux-source-6.1", Version: "6.1.190-1"},
	}}
	src, note, err := sourceFor(ix, kernel.Build{Series: "6.1", Upstream: "6.1.192"})
	if err != nil || src.Version != "6.1.192-3" || note != "" {
		t.Errorf("exact: %v %q %v", src.Version, note, err)
	}
	src, note, err = sourceFor(ix, kernel.Build{Series: "6.1", Upstream: "6.1.191"})
	if err != nil || src.Version != "6.1.190-1" || !strings.Contains(note, "6.1.191") {
		t.Errorf("nearest: %v %q %v", src.Version, note, err)
	}
	if _, _, err := sourceFor(ix, kernel.Build{Series: "5.4", Upstream: "5.4.1"}); err == nil {
		t.Errorf("a series without sources resolved")
	}
}

func TestCompilerFollowsTheStockKernelsRelease(t *testing.T) {
	for _, c := range []struct {
		b    kernel.Build
		want string
	}{
		{kernel.Build{Suite: "bullseye-security", ABI: "5.10.0-46-amd64"}, "gcc-10"},
		{kernel.Build{Suite: "bookworm-security", ABI: "6.1.0-57-amd64"}, "gcc-12"},
		{kernel.Build{Suite: "trixie", ABI: "6.12.117+deb13-amd64"}, "gcc-14"},
		{kernel.Build{Suite: "trixie-backports", ABI: "7.3.4+deb13-amd64"}, "gcc-14"},
	} {
		if got := compilerFor(c.b); got != c.want {
			t.Errorf("compilerFor(%s) = %s, want %s", c.b.Suite, got, c.want)
		}
	}
}

func TestPVHFixupAddsKASANSanitizeOnceAndOnlyWhereMissing(t *testing.T) {
	for name, c := range map[string]struct{ before, want string }{
		// 6.1's (and 5.10's) Makefile, as Debian ships it.
		"6.1": {"# SPDX-License-Identifier: GPL-2.0\nOBJECT_FILES_NON_STANDARD_head.o := y\n\nobj-$(CONFIG_PVH) += enlighten.o\nobj-$(CONFIG_PVH) += head.o\n", "KASAN_SANITIZE := n"},
		// 6.12's and 7.3's already keep KASAN out.
		"6.12": {"# SPDX-License-Identifier: GPL-2.0\nOBJECT_FILES_NON_STANDARD_head.o := y\nKASAN_SANITIZE := n\n\nobj-$(CONFIG_PVH) += enlighten.o\nobj-$(CONFIG_PVH) += head.o\n", ""},
	} {
		tree := t.TempDir()
		mk := filepath.Join(tree, "arch", "x86", "platform", "pvh", "Makefile")
		a := arch.Must("amd64")
		os.MkdirAll(filepath.Dir(mk), 0o755)
		os.WriteFile(mk, []byte(c.before), 0o644)
		for i := 0; i < 2; i++ {
			if err := pvhNoKASAN(tree, a); err != nil {
				t.Fatal(err)
			}
		}
		after, _ := os.ReadFile(mk)
		if n := strings.Count(string(after), "KASAN_SANITIZE := n"); n != 1 {
			t.Errorf("%s: %d KASAN_SANITIZE lines after two runs:\n%s", name, n, after)
		}
		if c.want == "" && string(after) != c.before {
			t.Errorf("%s: changed a Makefile that needed nothing:\n%s", name, after)
		}
	}
	if err := pvhNoKASAN(t.TempDir(), arch.Must("amd64")); err != nil {
		t.Errorf("a tree without PVH: %v", err)
	}
	// An architecture booted without PVH has nothing to keep KASAN out of.
	tree := t.TempDir()
	mk := filepath.Join(tree, "arch", "x86", "platform", "pvh", "Makefile")
	os.MkdirAll(filepath.Dir(mk), 0o755)
	os.WriteFile(mk, []byte("obj-y += head.o\n"), 0o644)
	if err := pvhNoKASAN(tree, arch.Must("arm64")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(mk); string(b) != "obj-y += head.o\n" {
		t.Errorf("changed %s for arm64:\n%s", mk, b)
	}
}

func TestOptionalLinesAreAskedForButNotChecked(t *testing.T) {
	req, strict := splitOptional("# why\nCONFIG_KASAN=y\nCONFIG_UBSAN_SHIFT=y # kmodvm: optional\n")
	if req != "# why\nCONFIG_KASAN=y\nCONFIG_UBSAN_SHIFT=y\n" {
		t.Errorf("request = %q", req)
	}
	if m := Missing(strict, "CONFIG_KASAN=y\n"); len(m) != 0 {
		t.Errorf("an optional line was checked: %q", m)
	}
	if m := Missing(strict, "CONFIG_UBSAN_SHIFT=y\n"); len(m) != 1 {
		t.Errorf("a strict line was not checked: %q", m)
	}
}
