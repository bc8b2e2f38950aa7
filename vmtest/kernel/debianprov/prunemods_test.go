package debianprov

import (
	"os"
	"path/filepath"
	"testing"
)

// A module no out-of-tree module can need (it exports nothing, and no
// exporter needs it) goes; exporters, what they need and the early
// modules stay, and depmod's files go for a depmod of what is left.
func TestPruneModulesKeepsWhatAModuleCanNeed(t *testing.T) {
	mods, kdir := t.TempDir(), t.TempDir()
	files := map[string]bool{ // kept?
		"kernel/lib/crc/crc-itu-t.ko.xz":           true, // exports
		"kernel/lib/helper.ko.xz":                  true, // needed by an exporter
		"kernel/drivers/char/virtio_console.ko.xz": true, // early
		"kernel/drivers/net/leaf.ko.xz":            false,
		"kernel/drivers/net/wifi/user.ko.xz":       false, // needs an exporter, exports nothing
	}
	for p := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(mods, p)), 0o755)
		os.WriteFile(filepath.Join(mods, p), []byte(p), 0o644)
	}
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte(
		"kernel/lib/crc/crc-itu-t.ko.xz: kernel/lib/helper.ko.xz\n"+
			"kernel/lib/helper.ko.xz:\n"+
			"kernel/drivers/char/virtio_console.ko.xz:\n"+
			"kernel/drivers/net/leaf.ko.xz:\n"+
			"kernel/drivers/net/wifi/user.ko.xz: kernel/lib/crc/crc-itu-t.ko.xz kernel/lib/helper.ko.xz\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "modules.alias"), []byte("alias x leaf\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "modules.builtin"), []byte("kernel/lib/builtin.ko\n"), 0o644)
	os.WriteFile(filepath.Join(kdir, "Module.symvers"), []byte(
		"0x1\tcrc_itu_t\tlib/crc/crc-itu-t\tEXPORT_SYMBOL\t\n"+
			"0x2\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"), 0o644)

	if err := pruneModules(mods, kdir, []string{"virtio-console"}); err != nil {
		t.Fatal(err)
	}
	for p, kept := range files {
		_, err := os.Stat(filepath.Join(mods, p))
		if kept && err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
		if !kept && !os.IsNotExist(err) {
			t.Errorf("%s kept", p)
		}
	}
	if _, err := os.Stat(filepath.Join(mods, "kernel/drivers/net")); !os.IsNotExist(err) {
		t.Errorf("an emptied directory stayed (%v)", err)
	}
	for _, f := range []string{"modules.dep", "modules.alias"} {
		if _, err := os.Stat(filepath.Join(mods, f)); !os.IsNotExist(err) {
			t.Errorf("%s, depmod's, stayed (%v)", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(mods, "modules.builtin")); err != nil {
		t.Errorf("modules.builtin, the package's: %v", err)
	}
}

// Without Module.symvers nothing tells which modules a module may need:
// all stay.
func TestPruneModulesWithoutSymversKeepsAll(t *testing.T) {
	mods, kdir := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(mods, "kernel"), 0o755)
	os.WriteFile(filepath.Join(mods, "kernel/leaf.ko"), nil, 0o644)
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/leaf.ko:\n"), 0o644)
	if err := pruneModules(mods, kdir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mods, "kernel/leaf.ko")); err != nil {
		t.Errorf("leaf.ko: %v", err)
	}
}
