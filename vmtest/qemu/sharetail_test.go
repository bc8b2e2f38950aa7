package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseShareBAR: the ivshmem device's BAR 2 found in QMP's real
// query-pci answers (testdata/query-pci, made by TestCaptureQueryPCI) is
// where the same VM's guest placed it (its sysfs resource file's third
// line: first and last address).
func TestParseShareBAR(t *testing.T) {
	answers, _ := filepath.Glob("testdata/query-pci/*.json")
	if len(answers) == 0 {
		t.Fatal("no fixtures in testdata/query-pci")
	}
	for _, p := range answers {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := os.ReadFile(strings.TrimSuffix(p, ".json") + ".resource")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(res), "\n")
		var first, last uint64
		if len(lines) < 3 {
			t.Fatalf("%s: the guest's resource file has no BAR 2", p)
		}
		if _, err := fmt.Sscanf(lines[2], "%v %v", &first, &last); err != nil || last <= first {
			t.Fatalf("%s: the guest's BAR 2 %q: %v", p, lines[2], err)
		}
		addr, size, err := parseShareBAR(raw)
		if err != nil || addr != first || size != last-first+1 {
			t.Errorf("%s: parseShareBAR = %#x, %#x, %v; the guest's BAR 2 is %#x-%#x", p, addr, size, err, first, last)
		}
	}
}

// TestParseShareBARRefuses answers without a BAR the guest mapped: no
// device, or one whose memory decoding is off (QEMU's all-ones address:
// an arm64 guest before the agent enabled the device).
func TestParseShareBARRefuses(t *testing.T) {
	for _, raw := range []string{
		`[{"bus": 0, "devices": []}]`,
		`[{"bus": 0, "devices": [{"id": {"device": 4368, "vendor": 6900}, "regions": [
			{"bar": 2, "size": 67108864, "address": 18446744073709551615, "type": "memory"}]}]}]`,
	} {
		if addr, _, err := parseShareBAR([]byte(raw)); err == nil {
			t.Errorf("parseShareBAR(%s) = %#x, want an error", raw, addr)
		}
	}
}

// TestParseShareBARBehindABridge: a device behind a PCI bridge is found
// too (kmodvm's machines place it on the root bus, as the fixtures show;
// another machine type or device set may not).
func TestParseShareBARBehindABridge(t *testing.T) {
	raw := `[{"bus": 0, "devices": [{"id": {"device": 12, "vendor": 6966}, "regions": [], "pci_bridge": {"devices": [
		{"id": {"device": 4368, "vendor": 6900}, "regions": [{"bar": 2, "size": 67108864, "address": 34359738368}]}]}}]}]`
	if addr, size, err := parseShareBAR([]byte(raw)); err != nil || addr != 32<<30 || size != 64<<20 {
		t.Errorf("parseShareBAR = %#x, %#x, %v; want 32 GiB, 64 MiB", addr, size, err)
	}
}
