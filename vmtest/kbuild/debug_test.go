package kbuild

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// A kernel whose own flags have -g (Debian's) builds modules as it is; any
// other gets -g through KCFLAGS, so that reports still name source lines.
func TestModulesGetDebugInfoOnlyWhenTheKernelGivesNone(t *testing.T) {
	t.Setenv("KCFLAGS", "")
	for _, c := range []struct {
		config string
		want   []string
	}{
		{"CONFIG_DEBUG_INFO=y\nCONFIG_DEBUG_INFO_DWARF5=y\n", nil},
		{"# CONFIG_DEBUG_INFO is not set\nCONFIG_DEBUG_INFO_NONE=y\n", []string{"KCFLAGS=-g"}},
	} {
		cfg := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(cfg, []byte(c.config), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := debugArgs(&kernel.Kernel{Config: cfg}); !reflect.DeepEqual(got, c.want) {
			t.Errorf("config %q: %q, want %q", c.config, got, c.want)
		}
	}
	t.Setenv("KCFLAGS", "-DFOO")
	if got := debugArgs(&kernel.Kernel{}); !reflect.DeepEqual(got, []string{"KCFLAGS=-DFOO -g"}) {
		t.Errorf("with the user's KCFLAGS: %q", got)
	}
}
