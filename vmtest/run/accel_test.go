package run

import (
	"runtime"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// KVM that auto found for amd64 guests is no accelerator for arm64 guests
// on an amd64 host; one the configuration names stays named.
func TestAccelForTheGuestsArchitecture(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("an amd64 host's KVM")
	}
	auto := &runner{accel: qemu.AccelKVM, accelReq: qemu.AccelAuto}
	if got := auto.accelFor("amd64"); got != qemu.AccelKVM {
		t.Errorf("amd64 under auto = %s, want kvm", got)
	}
	if got := auto.accelFor("arm64"); got != qemu.AccelTCG {
		t.Errorf("arm64 under auto = %s, want tcg", got)
	}
	named := &runner{accel: qemu.AccelKVM, accelReq: qemu.AccelKVM}
	if got := named.accelFor("arm64"); got != qemu.AccelKVM {
		t.Errorf("arm64 under --accel kvm = %s, want kvm as asked", got)
	}
	tcg := &runner{accel: qemu.AccelTCG, accelReq: qemu.AccelAuto}
	if got := tcg.accelFor("arm64"); got != qemu.AccelTCG {
		t.Errorf("arm64 without KVM = %s", got)
	}
}
