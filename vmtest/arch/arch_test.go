package arch

import (
	"os"
	"path/filepath"
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

func TestArm64(t *testing.T) {
	a, err := Lookup("arm64")
	if err != nil {
		t.Fatal(err)
	}
	if a.QEMU != "qemu-system-aarch64" || a.Console() != "ttyAMA0" || a.KernelArch != "arm64" || a.Image != ArmImage {
		t.Errorf("arm64 = %+v", a)
	}
	// virt has one PL011: the events and control ports are virtio-serial
	// ports, whose driver the guest loads first.
	if got := a.SerialDevice(0); got != "/dev/ttyAMA0" {
		t.Errorf("port 0 = %s", got)
	}
	if got := a.SerialDevice(2); got != "/dev/vport0p2" {
		t.Errorf("port 2 = %s", got)
	}
	if got := a.PortModules(1); got != nil {
		t.Errorf("PortModules(1) = %q: the console needs no module", got)
	}
	if got := a.PortModules(2); !slices.Equal(got, []string{"virtio_mmio", "virtio_console"}) {
		t.Errorf("PortModules(2) = %q", got)
	}
	if Must("amd64").PortModules(4) != nil || Must("amd64").SerialDevice(3) != "/dev/ttyS3" {
		t.Error("amd64's four UARTs need no module")
	}
}

func TestCompilerPackage(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the cross packages are named for an amd64 host")
	}
	if got := Must("arm64").CompilerPackage("gcc-12"); got != "gcc-12-aarch64-linux-gnu" {
		t.Errorf("arm64 gcc-12 = %s", got)
	}
	if got := Must("amd64").CompilerPackage("gcc-14"); got != "gcc-14" {
		t.Errorf("amd64 gcc-14 = %s", got)
	}
	if got := Must("arm64").MakeArgs(); !slices.Equal(got, []string{"ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"}) {
		t.Errorf("arm64 MakeArgs = %q", got)
	}
	// amd64's gcc builds i386's modules: the kernel's Makefile passes
	// -m32, and KVM runs its guests.
	i386 := Must("i386")
	if got := i386.CompilerPackage("gcc-12"); got != "gcc-12" {
		t.Errorf("i386 gcc-12 = %s", got)
	}
	if got := i386.MakeArgs(); !slices.Equal(got, []string{"ARCH=x86"}) {
		t.Errorf("i386 MakeArgs = %q", got)
	}
	if !i386.KVMCapable([]byte("flags\t\t: fpu vmx\n")) || Must("arm64").KVMCapable([]byte("flags\t\t: fpu vmx\n")) {
		t.Error("KVM on an amd64 host with vmx: want i386 guests, and no arm64 ones")
	}
}

// The fixtures are QEMU 7.2's "info registers -a" of two-CPU guests: arm64
// idling in Debian's 6.1, i386 booting Debian's 6.1 686-pae, and an
// excerpt of amd64's.
func TestIPs(t *testing.T) {
	tests := []struct {
		arch string
		want []uint64
	}{
		{"amd64", []uint64{0xffffffff81a592eb, 0xffffffff81000abc}},
		{"arm64", []uint64{0xffff800008cda26c, 0xffff800008cda26c}},
		{"i386", []uint64{0xc14bdd10, 0xc19386c3}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.arch+"-info-registers.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if got := Must(tt.arch).IPs(string(b)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: IPs = %x, want %x", tt.arch, got, tt.want)
		}
	}
}
