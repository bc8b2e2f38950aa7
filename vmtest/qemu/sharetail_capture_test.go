package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// captureQueryPCI names the architectures whose fixtures in
// testdata/query-pci TestCaptureQueryPCI writes anew (comma-separated).
var captureQueryPCI = flag.String("capture-query-pci", "", "boot these architectures' VMs with the shared memory and write their query-pci answers and the guest's view of the BARs into testdata/query-pci")

// TestCaptureQueryPCI boots Debian's 6.1 of each architecture named by
// -capture-query-pci with the devices of a kmodvm snapshot VM (console,
// event and control ports, 64 MiB shared), waits until the guest's PCI
// setup placed the BARs (the test init prints the ivshmem device's sysfs
// resource file), and writes QMP's query-pci answer as <arch>.json and
// the guest's lines as <arch>.resource, which TestParseShareBAR compares.
func TestCaptureQueryPCI(t *testing.T) {
	if *captureQueryPCI == "" {
		t.Skip("captures only with -capture-query-pci")
	}
	for _, name := range strings.Split(*captureQueryPCI, ",") {
		t.Run(name, func(t *testing.T) { captureQueryPCIOf(t, arch.Must(name)) })
	}
}

func captureQueryPCIOf(t *testing.T, a *arch.Arch) {
	initrd, err := buildInitramfs(t.TempDir(), a.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	var console syncBuffer
	cfg := Config{Arch: a.Name, Kernel: kerneltest.GetFor(t, "6.1", a.Name).BootImage(), Initrd: initrd,
		Append: []string{"kmodvmtest=ivshmem"}, Timeout: 3 * vmTimeout, ShareMiB: 64,
		Serial: []Port{{Name: "console", Output: &console}, {Name: "events", Param: "kmodvmtest.events"},
			{Name: "control", Duplex: true, Param: "kmodvmtest.control"}}}
	vm, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Wait()
	defer vm.Kill()
	for deadline := time.Now().Add(cfg.Timeout); !strings.Contains(console.String(), "init: ivshmem done"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the guest never printed its BARs; console:\n%s", console.String())
		}
	}
	raw, err := vm.QMP("query-pci", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	var resource strings.Builder
	for _, line := range strings.Split(console.String(), "\n") {
		if _, r, ok := strings.Cut(strings.TrimRight(line, "\r"), "init: ivshmem resource: "); ok {
			resource.WriteString(r + "\n")
		}
	}
	dir := filepath.Join("testdata", "query-pci")
	if err := os.WriteFile(filepath.Join(dir, a.Name+".json"), append(pretty.Bytes(), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, a.Name+".resource"), []byte(resource.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if info, err := vm.HumanMonitorCommand("info pci"); err == nil {
		t.Logf("info pci:\n%s", info)
	}
}
