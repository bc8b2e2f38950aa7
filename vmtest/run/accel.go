package run

import (
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// accelFor is the accelerator for guests of the named architecture: KVM
// that auto chose for amd64 guests is chosen again for the guest's own
// architecture (an amd64 host's KVM does not run arm64 guests: TCG does).
// An accelerator the configuration names is used as named.
func (r *runner) accelFor(name string) qemu.Accel {
	a, err := arch.Lookup(name)
	if err != nil || a.Name == arch.Default || r.accel != qemu.AccelKVM || r.accelReq == qemu.AccelKVM {
		return r.accel
	}
	return qemu.AccelAuto.Resolve(a)
}
