package moddep

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/lib/crc/crc-itu-t.ko.xz": "crc_itu_t",
		"virtio-console":                 "virtio_console",
		"mmapdrv.ko":                     "mmapdrv",
		"usbcore":                        "usbcore",
		"/kmodvm/modules/snd-pcm.ko.xz":  "snd_pcm",
		"mmap_drv.ko":                    "mmap_drv",
		"dm-mod.ko.zst":                  "dm_mod",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadIndexesByName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(
		"kernel/lib/crc-itu-t.ko.xz:\n"+
			"kernel/drivers/x/user.ko.xz: kernel/lib/crc-itu-t.ko.xz\n"+
			"garbage\n"), 0o644)
	idx, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Entry{
		"crc_itu_t": {Path: "kernel/lib/crc-itu-t.ko.xz", Deps: []string{}},
		"user":      {Path: "kernel/drivers/x/user.ko.xz", Deps: []string{"kernel/lib/crc-itu-t.ko.xz"}},
	}
	if !reflect.DeepEqual(idx, want) {
		t.Errorf("Read = %+v, want %+v", idx, want)
	}
	if _, err := Read(t.TempDir()); err == nil {
		t.Error("Read of a tree without modules.dep succeeded")
	}
}
