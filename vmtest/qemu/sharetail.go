package qemu

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// shareTailTimeout bounds each QMP command that reads the shared memory's
// tail.
const shareTailTimeout = 5 * time.Second

// saveShareTail copies the last Config.ShareTail bytes of the shared
// memory, as the guest sees them, into Result.ShareTail, while QEMU still
// runs: a restored VM maps the memory privately (see Config.ShareMiB), so
// what the guest wrote is in QEMU's pages, not the file, and goes with
// QEMU. It reads the guest's physical memory at the ivshmem BAR's
// address, which only the guest's PCI setup decided.
func (v *VM) saveShareTail() {
	n := v.cfg.ShareTail
	if n <= 0 || v.cfg.ShareMiB <= 0 || v.mon == nil || v.res.ShareTail != nil {
		return
	}
	addr, size, err := v.shareBAR()
	if err == nil && size < uint64(n) {
		err = errors.New("the shared memory is smaller than its tail")
	}
	if err != nil {
		v.res.ShareTailError = err.Error()
		return
	}
	p := filepath.Join(v.dir, "share-tail.mem")
	defer os.Remove(p)
	if _, err := v.mon.run("pmemsave", map[string]any{"val": addr + size - uint64(n), "size": n, "filename": p}, shareTailTimeout); err != nil {
		v.res.ShareTailError = err.Error()
		return
	}
	b, err := os.ReadFile(p)
	if err != nil {
		v.res.ShareTailError = err.Error()
		return
	}
	v.res.ShareTail = b
}

// unmappedBAR is query-pci's address of a BAR the guest has not mapped.
const unmappedBAR = ^uint64(0)

// shareBAR is the guest physical address and size of the ivshmem
// device's memory (BAR 2), from QMP's query-pci.
func (v *VM) shareBAR() (addr, size uint64, err error) {
	raw, err := v.mon.run("query-pci", nil, shareTailTimeout)
	if err != nil {
		return 0, 0, err
	}
	return parseShareBAR(raw)
}

// parseShareBAR finds the ivshmem device's BAR 2 in query-pci's answer,
// behind bridges too. QEMU reports a BAR whose memory decoding the guest
// left off at the all-ones address (an arm64 guest, which no firmware set
// up, before the agent enables the device): no memory to read there.
func parseShareBAR(raw json.RawMessage) (addr, size uint64, err error) {
	type device struct {
		ID struct {
			Vendor, Device int
		} `json:"id"`
		Regions []struct {
			Bar     int    `json:"bar"`
			Address uint64 `json:"address"`
			Size    uint64 `json:"size"`
		} `json:"regions"`
		PCIBridge *struct {
			Devices []device `json:"devices"`
		} `json:"pci_bridge"`
	}
	var buses []struct {
		Devices []device `json:"devices"`
	}
	if err := json.Unmarshal(raw, &buses); err != nil {
		return 0, 0, err
	}
	var find func([]device) bool
	find = func(ds []device) bool {
		for _, d := range ds {
			if d.ID.Vendor == 0x1af4 && d.ID.Device == 0x1110 {
				for _, r := range d.Regions {
					if r.Bar == 2 && r.Address != 0 && r.Address != unmappedBAR {
						addr, size = r.Address, r.Size
						return true
					}
				}
			}
			if d.PCIBridge != nil && find(d.PCIBridge.Devices) {
				return true
			}
		}
		return false
	}
	for _, b := range buses {
		if find(b.Devices) {
			return addr, size, nil
		}
	}
	return 0, 0, errors.New("no ivshmem BAR the guest mapped")
}
