package arch

import (
	"bufio"
	"debug/elf"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// optional are the fields a descriptor may leave zero (see the package
// doc); every other field, including one added later, must be set.
var optional = map[string]bool{
	"GOARM": true, "Suffixes": true, "GDBLink": true, "PVHSource": true, "RunsOn": true, "ELF.Abs64": true, "ELF.Add": true, "ELF.Sub": true, "KVMFlags": true, "Channels": true, "ChannelDevice": true, "ChannelModules": true,
	"Crash.TraceStart": true, "Crash.NMI": true, "Crash.NMIParams": true, "LibFuzzer": true, "NoSnapshot": true, "FirstSeries": true, "PoweroffExits": true, "FirstReason": true, "Crash.FaultLR": true, "Crash.SysRq": true, "Crash.TrapAfter": true, "PageSizes": true,
}

// unset lists the fields of v, a struct of this package, that are zero (or
// empty slices) and not optional, by their path from Arch.
func unset(v reflect.Value, prefix string) []string {
	var out []string
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		name := prefix + f.Name
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == v.Type().PkgPath():
			out = append(out, unset(fv, name+".")...)
		case optional[name]:
		case fv.IsZero(), fv.Kind() == reflect.Slice && fv.Len() == 0:
			out = append(out, name)
		}
	}
	return out
}

func TestDescriptors(t *testing.T) {
	all := All()
	if len(all) == 0 || all[0].Name > all[len(all)-1].Name {
		t.Fatalf("All = %v: want every architecture, by name", all)
	}
	if _, err := Lookup(Default); err != nil {
		t.Errorf("Default: %v", err)
	}
	for _, a := range all {
		t.Run(a.Name, func(t *testing.T) {
			if missing := unset(reflect.ValueOf(*a), ""); len(missing) > 0 {
				t.Errorf("unset: %s", strings.Join(missing, ", "))
			}
			checkNames(t, a)
			checkTree(t, a)
			checkFixture(t, a)
		})
	}
}

// checkNames pins that each of a's names leads back to it alone.
func checkNames(t *testing.T, a *Arch) {
	if l, err := Lookup(a.Name); err != nil || l.Name != a.Name {
		t.Errorf("Lookup(%s) = %v, %v", a.Name, l, err)
	}
	if !slices.Contains(a.Flavours, a.Flavour) {
		t.Errorf("Flavour %s is not one of Flavours %q", a.Flavour, a.Flavours)
	}
	named := []string{a.Flavour}
	for suffix, f := range a.Suffixes {
		named = append(named, f)
		if suffix == "" || a.SuffixOf(f) != suffix {
			t.Errorf("suffix %q of flavour %s: want a nonempty one naming it alone", suffix, f)
		}
	}
	slices.Sort(named)
	if got := slices.Sorted(slices.Values(a.Flavours)); !slices.Equal(got, named) {
		t.Errorf("Flavours %q: want the plain flavour and those Suffixes name, %q", got, named)
	}
	for _, f := range a.Flavours {
		if b := ByFlavour(f); b == nil || b.Name != a.Name {
			t.Errorf("ByFlavour(%s) = %v, want %s alone", f, b, a.Name)
		}
	}
	if b := ByMachine(a.ELF.Machine); b == nil || b.Name != a.Name {
		t.Errorf("ByMachine(%s) = %v, want %s alone", a.ELF.Machine, b, a.Name)
	}
	if (a.ELF.Class == elf.ELFCLASS64) != (len(a.ELF.Abs64) > 0) {
		t.Errorf("ELF class %v with Abs64 %v: a 64-bit object's DWARF holds 8-byte addresses, a 32-bit one's none", a.ELF.Class, a.ELF.Abs64)
	}
	if (a.GOARCH == "arm") != (a.GOARM != "") {
		t.Errorf("GOARCH %s with GOARM %q: want GOARM exactly for arm", a.GOARCH, a.GOARM)
	}
	if (a.FirstSeries == "") != (a.FirstReason == "") {
		t.Errorf("FirstSeries %q with FirstReason %q: want both or neither", a.FirstSeries, a.FirstReason)
	}
	for _, f := range a.Flavours {
		if n := a.PageSizeOf(f); n < 4096 || bits.OnesCount(uint(n)) != 1 {
			t.Errorf("page size %d of %s is not a power of two of at least 4K", n, f)
		}
	}
	for f, n := range a.PageSizes {
		if f == a.Flavour || !slices.Contains(a.Flavours, f) || n == a.PageSize {
			t.Errorf("PageSizes[%s] = %d: want another flavour than the plain one, of another page size than PageSize %d", f, n, a.PageSize)
		}
	}
}

// checkTree pins the kernel tree's paths and the kinds against each other.
func checkTree(t *testing.T, a *Arch) {
	dir := "arch/" + a.KernelArch + "/"
	if !strings.HasPrefix(a.TreeImage, dir) {
		t.Errorf("TreeImage %s is not under %s", a.TreeImage, dir)
	}
	if pvh := a.Image == PVHOrBzImage; pvh != (a.PVHSource != "") || pvh && !strings.HasPrefix(a.PVHSource, dir) {
		t.Errorf("Image %s with PVHSource %q: want one under %s exactly for %s", a.Image, a.PVHSource, dir, PVHOrBzImage)
	}
	if !slices.Contains([]ImageKind{PVHOrBzImage, ArmImage, ZImage, ELFVmlinux, RiscvImage}, a.Image) {
		t.Errorf("Image %q: the kernel cache and qemu know no such kind", a.Image)
	}
	if !slices.Contains([]ChannelKind{NoChannels, VirtioSerial}, a.Channels) ||
		(a.Channels == NoChannels) != (len(a.ChannelModules) == 0) ||
		(a.Channels == NoChannels) != (a.ChannelDevice == "") {
		t.Errorf("Channels %q with device %q and modules %q", a.Channels, a.ChannelDevice, a.ChannelModules)
	}
	if a.Crash.NMI != (len(a.Crash.NMIParams) > 0) {
		t.Errorf("NMI %v with NMIParams %q: an injected NMI panics only through them", a.Crash.NMI, a.Crash.NMIParams)
	}
}

// cpuHeader begins one CPU's registers in "info registers -a".
var cpuHeader = regexp.MustCompile(`(?m)^CPU#\d+$`)

// checkFixture reads each CPU's instruction pointer from QEMU's registers
// of a guest of the architecture.
func checkFixture(t *testing.T, a *Arch) {
	b, err := os.ReadFile(filepath.Join("testdata", a.Name+"-info-registers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Each CPU's registers begin with a line of its own, "CPU#0"; POWER's
	// name the CPU again at the end of the NIP line.
	cpus := len(cpuHeader.FindAllIndex(b, -1))
	if got := a.IPs(string(b)); cpus == 0 || len(got) != cpus {
		t.Errorf("IPs found %d instruction pointers for %d CPUs", len(got), cpus)
	}
}

func TestHostFor(t *testing.T) {
	for _, a := range All() {
		if got := hostFor(a.GOARCH); got != a.Debian {
			t.Errorf("hostFor(%s) = %s, want %s", a.GOARCH, got, a.Debian)
		}
	}
	if got := hostFor("sparc64"); got != Must(Default).Debian {
		t.Errorf("an unknown host is %s, want Default's %s", got, Must(Default).Debian)
	}
}

// TestDescriptorsAgreeWithTools checks the names the tools themselves
// define, where the host has the tools.
func TestDescriptorsAgreeWithTools(t *testing.T) {
	goarches := goLinuxArches(t)
	cpus := debianArches(t)
	for _, a := range All() {
		if goarches != nil && !goarches["linux/"+a.GOARCH] {
			t.Errorf("%s: go tool dist list has no linux/%s", a.Name, a.GOARCH)
		}
		bits := map[elf.Class]int{elf.ELFCLASS32: 32, elf.ELFCLASS64: 64}[a.ELF.Class]
		if c, ok := cpus[a.Debian]; cpus != nil && (!ok || c.triplet != a.Triplet || c.bits != bits) {
			t.Errorf("%s: dpkg's tables have %+v for %s; want triplet %s, %d bits (its ELF class)",
				a.Name, c, a.Debian, a.Triplet, bits)
		}
		bin, err := exec.LookPath(a.QEMU)
		if err != nil {
			continue
		}
		out, err := exec.Command("dpkg-query", "-S", bin).Output()
		if err != nil {
			continue // not installed from a package
		}
		if pkg, _, _ := strings.Cut(string(out), ":"); pkg != a.Package {
			t.Errorf("%s: %s is in package %s, the descriptor says %s", a.Name, bin, pkg, a.Package)
		}
	}
}

// goLinuxArches is the go tool's set of GOOS/GOARCH pairs, or nil without
// the go tool.
func goLinuxArches(t *testing.T) map[string]bool {
	out, err := exec.Command("go", "tool", "dist", "list").Output()
	if err != nil {
		t.Logf("go tool dist list: %v", err)
		return nil
	}
	set := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		set[l] = true
	}
	return set
}

type debianArch struct {
	triplet string
	bits    int
}

// debianArches reads dpkg's tables of Debian's Linux architectures (the
// tuple table names armhf, of CPU arm and ABI eabihf; the CPU table each
// CPU's GNU name and bits), or nil without dpkg.
func debianArches(t *testing.T) map[string]debianArch {
	cpus := dpkgTable(t, "cputable", 5)
	tuples := dpkgTable(t, "tupletable", 2)
	if cpus == nil || tuples == nil {
		return nil
	}
	arches := map[string]debianArch{}
	for _, tuple := range tuples {
		abi, cpu, ok := strings.Cut(tuple[0], "-gnu-linux-")
		if !ok {
			continue // another libc or kernel
		}
		names := [][]string{{cpu, tuple[1]}}
		if cpu == "<cpu>" {
			names = nil
			for _, c := range cpus {
				names = append(names, []string{c[0], strings.ReplaceAll(tuple[1], "<cpu>", c[0])})
			}
		}
		for _, n := range names {
			for _, c := range cpus {
				if c[0] != n[0] {
					continue
				}
				bits, _ := strconv.Atoi(c[3])
				triplet := c[1] + "-linux-gnu"
				if abi != "base" {
					triplet += abi
				}
				arches[n[1]] = debianArch{triplet, bits}
			}
		}
	}
	return arches
}

// dpkgTable reads the rows of at least n fields of one of dpkg's tables,
// or nil without it.
func dpkgTable(t *testing.T, name string, n int) [][]string {
	f, err := os.Open("/usr/share/dpkg/" + name)
	if err != nil {
		t.Logf("no dpkg %s: %v", name, err)
		return nil
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= n && !strings.HasPrefix(f[0], "#") {
			rows = append(rows, f)
		}
	}
	return rows
}
