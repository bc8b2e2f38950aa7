package kconfig

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// testdata/kconfig is a miniature kernel tree whose Kconfig files and
// Makefiles use each construct the parser handles; stock.config is the
// stock kernel's config the fragments copy values from.
const miniTree = "testdata/kconfig"

func readStock(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return kernel.ParseConfig(string(data))
}

func TestModuleOptionsReadTheMakefiles(t *testing.T) {
	stock := readStock(t, miniTree+"/stock.config")
	for _, tc := range []struct {
		rule, module string
		want         ModuleOption
	}{
		{"continuation line, composite object, parts set in stock", "videodev",
			ModuleOption{Symbol: "VIDEO_DEV", Parts: []string{"VIDEO_V4L2_I2C"}}},
		{"second object of a continued line", "v4l2-dv-timings", ModuleOption{Symbol: "VIDEO_DEV"}},
		{"ifeq guard, Kbuild over Makefile", "mc", ModuleOption{Symbol: "MEDIA_SUPPORT", Guards: []string{"MEDIA_CONTROLLER"}}},
		{"modules.dep path", "kernel/drivers/media/mc/mc.ko", ModuleOption{Symbol: "MEDIA_SUPPORT", Guards: []string{"MEDIA_CONTROLLER"}}},
		{"'-' and '_' are the same, ${CONFIG_X}", "crc_itu_t", ModuleOption{Symbol: "CRC_ITU_T"}},
		{"negative ifneq needs nothing", "pci-driver", ModuleOption{Symbol: "MEDIA_PCI_DRIVER"}},
		{"else branch needs nothing", "pci-driver-expert", ModuleOption{Symbol: "MEDIA_PCI_DRIVER"}},
		{"list variable defined after use", "media-extra", ModuleOption{Symbol: "MEDIA_SUPPORT", Guards: []string{"VIDEO_DEV"}}},
	} {
		got, err := ModuleOptions(miniTree, stock, []string{tc.module})
		if err != nil {
			t.Errorf("%s: %v", tc.rule, err)
			continue
		}
		if !reflect.DeepEqual(got[tc.module], tc.want) {
			t.Errorf("%s: %s = %+v, want %+v", tc.rule, tc.module, got[tc.module], tc.want)
		}
	}
}

func TestModuleOptionsRejectWhatNoMakefileBuilds(t *testing.T) {
	stock := readStock(t, miniTree+"/stock.config")
	for module, want := range map[string]string{
		"v4l2-dev":               "no Makefile builds it", // a part, not a module
		"never":                  "no Makefile builds it", // top-level Makefile: Kbuild wins
		"crc-helper":             "builds none of lib",    // CRC_HELPER unset in stock
		"kernel/lib/videodev.ko": "no Makefile builds it", // wrong directory
	} {
		_, err := ModuleOptions(miniTree, stock, []string{module})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", module, err, want)
		}
	}
}

func TestDependencyFragmentFollowsKconfig(t *testing.T) {
	stock := readStock(t, miniTree+"/stock.config")
	videoDev := []string{"# CONFIG_COMPILE_TEST is not set", "CONFIG_HAS_IOMEM=y", "CONFIG_I2C=m",
		"CONFIG_MEDIA_SUPPORT=m", "# CONFIG_MEDIA_SUPPORT_FILTER is not set", "CONFIG_MODULES=y",
		"CONFIG_VIDEO_DEV=m", "CONFIG_X86=y"}
	for _, tc := range []struct {
		rule string
		syms []string
		want []string
	}{
		{"depends on with && || () and !, enclosing if, menu visible if, default of an invisible symbol, source $(SRCARCH)",
			[]string{"VIDEO_DEV"}, videoDev},
		{"menu depends on, continuation line, macro taken as true, the x86 definition of PCI",
			[]string{"MEDIA_PCI_DRIVER"},
			append(slices.Clone(videoDev), "CONFIG_CC_HAS_FEATURE=y", "CONFIG_MEDIA_PCI_DRIVER=m", "CONFIG_PCI=y")},
		{"a bool is y on an m dependency; no prompt: the default", []string{"VIDEO_V4L2_I2C"},
			append(slices.Clone(videoDev), "CONFIG_VIDEO_V4L2_I2C=y")},
		{"choice depends on, help text ended by an unindented line", []string{"CRC_FAST"},
			[]string{"CONFIG_CRC_FAST=y", "CONFIG_CRC_ITU_T=m", "CONFIG_MODULES=y"}},
		{"prompt if a string comparison after $(ARCH)", []string{"CONFIG_64BIT"}, []string{"CONFIG_64BIT=y"}},
	} {
		got, err := DependencyFragment(miniTree, stock, tc.syms)
		if err != nil {
			t.Errorf("%s: %v", tc.rule, err)
			continue
		}
		want := slices.Clone(tc.want)
		slices.SortFunc(want, func(a, b string) int { return strings.Compare(fragmentKey(a), fragmentKey(b)) })
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v\n got %q\nwant %q", tc.rule, tc.syms, got, want)
		}
	}
}

func TestDependencyFragmentNamesWhatTheStockConfigLacks(t *testing.T) {
	stock := readStock(t, miniTree+"/stock.config")
	for sym, want := range map[string]string{
		"EXPERT":              "needs CONFIG_EXPERT, which the stock config does not set",
		"VIDEO_EXPERT_DRIVER": "needs CONFIG_EXPERT, which the stock config does not set",
		"GHOST":               "needs CONFIG_GHOST, which no Kconfig file defines",
	} {
		_, err := DependencyFragment(miniTree, stock, []string{sym})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", sym, err, want)
		}
	}
}

// TestDependencyFragmentOnARealTree computes the fragment for the in-kernel
// modules Debian's v4l2loopback (videodev, mc) and testdata/extmod
// (crc-itu-t) need, from an unpacked linux-source-6.1 and the stock 6.1
// kernel's config.
func TestDependencyFragmentOnARealTree(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a whole kernel tree")
	}
	tree, config := os.Getenv("KMODVM_TEST_KERNEL_SOURCE"), os.Getenv("KMODVM_TEST_KERNEL_CONFIG")
	if tree == "" || config == "" {
		t.Skip("set KMODVM_TEST_KERNEL_SOURCE to an unpacked linux-source-6.1 tree and " +
			"KMODVM_TEST_KERNEL_CONFIG to the stock 6.1 kernel's config (e.g. ~/.cache/kmodvm/kernels/*/root/boot/config-6.1.0-*-amd64)")
	}
	stock := readStock(t, config)
	opts, err := ModuleOptions(tree, stock, []string{"videodev", "mc", "crc-itu-t"})
	if err != nil {
		t.Fatal(err)
	}
	wantOpts := map[string]string{"videodev": "VIDEO_DEV", "mc": "MEDIA_SUPPORT", "crc-itu-t": "CRC_ITU_T"}
	var syms []string
	for m, o := range opts {
		if o.Symbol != wantOpts[m] {
			t.Errorf("%s: %+v, want symbol %s", m, o, wantOpts[m])
		}
		syms = append(syms, o.Symbols()...)
	}
	if g := opts["mc"].Guards; !slices.Equal(g, []string{"MEDIA_CONTROLLER"}) {
		t.Errorf("mc guards %q: drivers/media/Makefile reads mc/ only when MEDIA_CONTROLLER=y", g)
	}
	got, err := DependencyFragment(tree, stock, syms)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CONFIG_CRC_ITU_T=m", "CONFIG_HAS_IOMEM=y", "CONFIG_I2C=y", "CONFIG_MEDIA_CONTROLLER=y",
		"CONFIG_MEDIA_SUPPORT=m", "# CONFIG_MEDIA_SUPPORT_FILTER is not set", "CONFIG_MODULES=y", "CONFIG_VIDEO_DEV=m"}
	if !slices.Equal(got, want) {
		t.Errorf("fragment\n got %q\nwant %q", got, want)
	}
}
