package qemu

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
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

// Resolve turns AccelAuto into the accelerator to use on this machine.
func (a Accel) Resolve() Accel { return a.resolve(ProbeKVM) }

// resolve is Resolve with probe deciding whether KVM is usable.
func (a Accel) resolve(probe func() error) Accel {
	if a == "" || a == AccelAuto {
		if probe() == nil {
			return AccelKVM
		}
		return AccelTCG
	}
	return a
}

// ProbeKVM reports why KVM cannot be used here, or nil if it can. An openable
// /dev/kvm is not enough: on hosts whose CPU does not expose vmx or svm
// (nested virtualization off) the device opens but guests hang at boot.
func ProbeKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("kvm unusable: %w", err)
	}
	f.Close()
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return fmt.Errorf("kvm unusable: %w", err)
	}
	if !hasVirtFlag(cpuinfo) {
		return fmt.Errorf("kvm unusable: /proc/cpuinfo shows neither vmx nor svm")
	}
	return nil
}

// hasVirtFlag reports whether a /proc/cpuinfo "flags" line names vmx or svm.
func hasVirtFlag(cpuinfo []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, value, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok || string(bytes.TrimSpace(name)) != "flags" {
			continue
		}
		for _, flag := range bytes.Fields(value) {
			if string(flag) == "vmx" || string(flag) == "svm" {
				return true
			}
		}
	}
	return false
}
