package kernel

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProfileFollowsTheConfig(t *testing.T) {
	cases := []struct {
		name, config string
		mem, cpus    int
		slowdown     float64
		append       []string
		sanitizers   []string
	}{
		{"stock", "CONFIG_KFENCE=y\nCONFIG_DEBUG_LIST=y\n", 256, 0, 1, nil, []string{"kfence"}},
		{"debug", "CONFIG_KASAN=y\nCONFIG_DEBUG_KMEMLEAK=y\nCONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF=y\nCONFIG_PROVE_LOCKING=y\nCONFIG_UBSAN=y\nCONFIG_KUNIT=y\nCONFIG_GCOV_KERNEL=y\nCONFIG_KCOV=y\n",
			1024, 0, 4.5, []string{"kasan_multi_shot", "kmemleak=on"}, []string{"kasan", "kmemleak", "lockdep", "ubsan"}},
		{"kcsan", "CONFIG_KCSAN=y\n# CONFIG_KASAN is not set\n", 512, 2, 3, kcsanParams, []string{"kcsan"}},
		{"16 KiB pages", "CONFIG_PAGE_SIZE_16KB=y\nCONFIG_PAGE_SHIFT=14\n", 384, 0, 1, nil, nil},
		{"64 KiB pages", "CONFIG_PAGE_SIZE_64KB=y\nCONFIG_PAGE_SHIFT=16\n", 256, 0, 1, nil, nil},
		{"no config", "", 256, 0, 1, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := &Kernel{}
			if c.config != "" {
				k.Config = filepath.Join(t.TempDir(), "config")
				if err := os.WriteFile(k.Config, []byte(c.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := k.Profile()
			if p.MemoryMiB != c.mem || p.CPUs != c.cpus || p.Slowdown != c.slowdown || !slices.Equal(p.Append, c.append) || !slices.Equal(p.Sanitizers, c.sanitizers) {
				t.Errorf("profile = %+v", p)
			}
			if c.name == "debug" && (!p.KUnit || !p.Gcov || !p.KCOV || p.BootTimeout <= stockBootTimeout) {
				t.Errorf("debug profile = %+v, want KUnit, gcov, KCOV and a longer boot timeout", p)
			}
			if c.name != "debug" && p.KCOV {
				t.Errorf("profile = %+v: KCOV without CONFIG_KCOV", p)
			}
		})
	}
}
