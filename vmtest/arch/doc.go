// Package arch describes each CPU architecture kmodvm runs kernels for: how
// Go, Debian, the kernel's build and QEMU name it, how a VM of it is set up,
// and how its kernel reports a crash. Every architecture difference lives
// here as data, so that a second architecture is a new Arch value, not an
// edit across the packages that build, boot and diagnose.
//
// Other packages name no architecture: they look one up (Lookup, ByFlavour,
// ByMachine, Host) or iterate All, and Default is the only statement of
// which architecture kmodvm means when nothing names one.
//
// # Adding an architecture
//
// A new architecture is one file here, <name>.go, whose init registers a
// function returning its Arch (register(riscv64)), and its fixtures. The
// descriptor must fill in every field but the optional ones, and
// TestDescriptors checks it does:
//
//   - Name, GOARCH (a `go tool dist list` linux value), GOARM for arm,
//     and Debian; Flavour and Flavours, Debian's kernel flavours of it, no other
//     architecture's, and Suffixes, the selector suffix naming each but
//     Flavour (none where Debian builds one flavour); PageSize of those
//     kernels.
//   - KernelArch (ARCH and SRCARCH), Triplet (Debian's GNU triplet, per
//     /usr/share/dpkg/cputable), TreeImage under arch/<KernelArch>/, and
//     Image, how QEMU boots it (a new ImageKind needs the kernel cache and
//     qemu to learn it).
//   - ELF: the e_machine, the class (dpkg's cputable bits) and the
//     absolute relocation types of a .ko's DWARF (Abs64 exactly for
//     ELFCLASS64).
//   - QEMU, Package (the Debian package shipping QEMU), GDB, Machine,
//     TCGCPU, KVMCPU; Serial and MaxSerial, and Channels with their
//     ChannelModules when the machine has fewer UARTs than a run needs
//     ports (and ChannelDevice, their controller); CommandLine.
//   - Crash: IPRegister and IPInfo (with the fixture
//     testdata/<name>-info-registers.txt, QEMU's "info registers -a" of a
//     running guest) and FaultIP.
//
// Optional: GOARM (arm only), Suffixes (where Flavour is the only one), RunsOn, ELF.Abs64 (none on 32 bits), ELF.Add and ELF.Sub (RISC-V),
// GDBLink, PVHSource (only for PVHOrBzImage), KVMFlags, Channels,
// ChannelDevice and ChannelModules, Crash.TraceStart, NMI and NMIParams, Crash.FaultLR and
// Crash.SysRq, Crash.TrapAfter, PageSizes (where every flavour has PageSize), LibFuzzer, NoSnapshot, FirstSeries and FirstReason, PoweroffExits, each described at its field.
package arch
