package qemu

import (
	"os"
	"testing"
)

// TestParseShareBAR: the ivshmem device's BAR 2 is found behind a PCIe
// root port, as q35 places it; an answer without it is an error.
func TestParseShareBAR(t *testing.T) {
	raw, err := os.ReadFile("testdata/query-pci.json")
	if err != nil {
		t.Fatal(err)
	}
	addr, size, err := parseShareBAR(raw)
	if err != nil || addr != 32<<30 || size != 64<<20 {
		t.Errorf("parseShareBAR = %#x, %#x, %v; want 32 GiB, 64 MiB", addr, size, err)
	}
	if _, _, err := parseShareBAR([]byte(`[{"bus": 0, "devices": []}]`)); err == nil {
		t.Error("an answer without the device parsed")
	}
}
