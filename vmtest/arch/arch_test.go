package arch

import (
	"runtime"
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, name := range []string{"", "amd64"} {
		a, err := Lookup(name)
		if err != nil || a.Name != "amd64" || a.GOARCH != "amd64" || a.KernelArch != "x86" {
			t.Errorf("Lookup(%q) = %+v, %v", name, a, err)
		}
	}
	if _, err := Lookup("sparc"); err == nil {
		t.Error("Lookup(sparc) succeeded")
	}
	// Each Lookup is a value of its own: a caller's edit stays its own.
	a := Must("amd64")
	a.Machine[1] = "microvm"
	if Must("amd64").Machine[1] != "q35" {
		t.Error("a caller's change leaked into the next Lookup")
	}
}

func TestSerialDevices(t *testing.T) {
	a := Must(Default)
	if a.Console() != "ttyS0" || a.SerialDevice(2) != "/dev/ttyS2" {
		t.Errorf("console %s, third port %s", a.Console(), a.SerialDevice(2))
	}
}

func TestMakeArgs(t *testing.T) {
	a := Must("amd64")
	got := a.MakeArgs()
	if got[0] != "ARCH=x86" {
		t.Errorf("MakeArgs = %q, want ARCH=x86 first", got)
	}
	cross := slices.ContainsFunc(got, func(s string) bool { return s == "CROSS_COMPILE=x86_64-linux-gnu-" })
	if want := runtime.GOARCH != "amd64"; cross != want {
		t.Errorf("MakeArgs = %q on a %s host: CROSS_COMPILE given %v, want %v", got, runtime.GOARCH, cross, want)
	}
}

func TestKVMCapable(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("KVM runs amd64 guests only on amd64 hosts")
	}
	tests := []struct {
		name    string
		cpuinfo string
		want    bool
	}{
		{"intel", "processor\t: 0\nflags\t\t: fpu vme vmx sse\n", true},
		{"amd", "flags\t\t: fpu svm\n", true},
		{"none", "flags\t\t: fpu vme sse hypervisor\n", false},
		{"vmx in another field", "model name\t: vmx\nflags\t\t: fpu\n", false},
		{"prefix only", "flags\t\t: vmxnet svm_lock\n", false},
		{"empty", "", false},
	}
	a := Must("amd64")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.KVMCapable([]byte(tt.cpuinfo)); got != tt.want {
				t.Errorf("KVMCapable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIPs(t *testing.T) {
	regs := "CPU#0\nRAX=0000000000000000 RBX=0000000000000000\nRSI=0 RDI=0\n" +
		"RIP=ffffffff81a592eb RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\n" +
		"CPU#1\nRIP=ffffffff81000abc RFL=00000246\n"
	got := Must("amd64").IPs(regs)
	want := []uint64{0xffffffff81a592eb, 0xffffffff81000abc}
	if !slices.Equal(got, want) {
		t.Errorf("IPs = %x, want %x", got, want)
	}
}
