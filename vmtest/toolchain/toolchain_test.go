package toolchain_test

import (
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

func TestToolchainMatchesTheKernelsCompiler(t *testing.T) {
	cases := []struct{ sel, compiler, where string }{
		{"6.1", "gcc-12", "host"},      // bookworm's own compiler
		{"5.10", "gcc-10", "bullseye"}, // the host has no gcc-10
		{"7.3", "gcc-14", "trixie"},    // and no gcc-14, nor glibc 2.38 for its kbuild tools
	}
	for _, c := range cases {
		t.Run(c.sel, func(t *testing.T) {
			k := kerneltest.Get(t, c.sel)
			tc, err := (&toolchain.Set{Dir: cachedir.Layout{Root: kernel.DefaultCacheDir()}.Toolchains()}).For(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			if tc.Compiler != c.compiler {
				t.Errorf("compiler = %s, want %s", tc.Compiler, c.compiler)
			}
			where := "host"
			if tc.Root != "" {
				where = tc.Suite
			}
			if where != c.where {
				t.Errorf("builds on %s, want %s", where, c.where)
			}
		})
	}
}

func TestGcovIsTheCompilersOwn(t *testing.T) {
	for cc, want := range map[string]string{"gcc-12": "gcov-12", "gcc-14": "gcov-14", "gcc": "gcov"} {
		if got := (&toolchain.Toolchain{Compiler: cc}).Gcov(); got != want {
			t.Errorf("%s: %s, want %s", cc, got, want)
		}
	}
}
