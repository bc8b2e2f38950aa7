package qemu

import (
	"fmt"
	"os"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Accel selects how QEMU executes the guest.
type Accel string

// Accelerators. AccelAuto (or the empty string) picks KVM when ProbeKVM
// says it works and TCG otherwise.
const (
	AccelAuto Accel = "auto"
	AccelKVM  Accel = "kvm"
	AccelTCG  Accel = "tcg"
)

// ParseAccel checks a user-supplied accelerator name.
func ParseAccel(s string) (Accel, error) {
	switch a := Accel(s); a {
	case "", AccelAuto:
		return AccelAuto, nil
	case AccelKVM, AccelTCG:
		return a, nil
	}
	return "", fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", s)
}

// Resolve turns AccelAuto into the accelerator to use on this machine for
// guests of architecture a (nil means arch.Default).
func (acc Accel) Resolve(a *arch.Arch) Accel {
	return acc.resolve(func() error { return ProbeKVM(a) })
}

// resolve is Resolve with probe deciding whether KVM is usable.
func (acc Accel) resolve(probe func() error) Accel {
	if acc == "" || acc == AccelAuto {
		if probe() == nil {
			return AccelKVM
		}
		return AccelTCG
	}
	return acc
}

// ProbeKVM reports why KVM cannot run guests of architecture a (nil means
// arch.Default) here, or nil if it can. An openable /dev/kvm is not enough:
// on hosts whose CPU does not expose the virtualization extensions (vmx or
// svm on amd64: nested virtualization off) the device opens but guests hang
// at boot.
func ProbeKVM(a *arch.Arch) error {
	if a == nil {
		a = arch.Must(arch.Default)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("kvm unusable: %w", err)
	}
	f.Close()
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return fmt.Errorf("kvm unusable: %w", err)
	}
	if !a.KVMCapable(cpuinfo) {
		return fmt.Errorf("kvm unusable for %s guests: /proc/cpuinfo shows none of %s", a, strings.Join(a.KVMFlags, ", "))
	}
	return nil
}
