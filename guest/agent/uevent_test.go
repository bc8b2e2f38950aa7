package agent

import (
	"compress/gzip"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseModuleUevent(t *testing.T) {
	cases := []struct {
		name, msg    string
		action, want string
	}{
		// As the 6.1 kernel sends them (lib/kobject_uevent.c): the header,
		// then the environment, each string ending in a NUL.
		{"load", "add@/module/mmapdrv\x00ACTION=add\x00DEVPATH=/module/mmapdrv\x00SUBSYSTEM=module\x00SEQNUM=1290\x00", "add", "mmapdrv"},
		{"unload", "remove@/module/mmapdrv_kunit\x00ACTION=remove\x00DEVPATH=/module/mmapdrv_kunit\x00SUBSYSTEM=module\x00SEQNUM=1301\x00", "remove", "mmapdrv_kunit"},
		{"the device a module made", "add@/devices/virtual/misc/mmapdrv\x00ACTION=add\x00DEVPATH=/devices/virtual/misc/mmapdrv\x00SUBSYSTEM=misc\x00MAJOR=10\x00MINOR=122\x00DEVNAME=mmapdrv\x00SEQNUM=1291\x00", "", ""},
		{"a driver bound", "bind@/module/virtio_console/drivers/virtio:virtio_console\x00ACTION=bind\x00DEVPATH=/module/virtio_console/drivers/virtio:virtio_console\x00SUBSYSTEM=module\x00SEQNUM=12\x00", "", ""},
		{"a module's change", "change@/module/mmapdrv\x00ACTION=change\x00DEVPATH=/module/mmapdrv\x00SUBSYSTEM=module\x00SEQNUM=1300\x00", "", ""},
		{"garbage", "libudev\x00\xfe\xed", "", ""},
	}
	for _, c := range cases {
		action, name, ok := parseModuleUevent([]byte(c.msg))
		if action != c.action || name != c.want || ok != (c.want != "") {
			t.Errorf("%s: got %q %q %v, want %q %q", c.name, action, name, ok, c.action, c.want)
		}
		if seq, ok := ueventSeq([]byte(c.msg)); ok != (c.name != "garbage") || (ok && seq < 12) {
			t.Errorf("%s: SEQNUM %d, %v", c.name, seq, ok)
		}
	}
}

func TestSectionSizesOfPlainAndCompressedFiles(t *testing.T) {
	// Any ELF file will do: the test binary itself, and a gzipped copy.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sectionSizes(self)
	if err != nil {
		t.Fatal(err)
	}
	if plain[".text"] == 0 || plain[".rodata"] == 0 {
		t.Errorf("no .text or .rodata: %v", plain)
	}
	for name := range plain {
		if strings.HasPrefix(name, ".debug") || name == ".symtab" || name == ".strtab" {
			t.Errorf("%s is not loaded, yet sized", name)
		}
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(t.TempDir(), "m.ko.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	packed, err := sectionSizes(gz)
	if err != nil || !maps.Equal(packed, plain) {
		t.Errorf("compressed: %v, %v; want %v", packed, err, plain)
	}
	s := sectionSizer{}
	if got := s.of(filepath.Join(t.TempDir(), "absent.ko")); got != nil || len(s) != 1 {
		t.Errorf("a missing file has sizes %v (cache %d)", got, len(s))
	}
}
