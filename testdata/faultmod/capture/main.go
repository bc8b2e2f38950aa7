// Command capture boots a kernel once per faultmod fault and saves what the
// kernel printed, to make the real-log fixtures of vmtest/dmesg:
// NAME.console is ttyS0 (the console, at loglevel 7) and NAME.kmsg the raw
// /dev/kmsg records the guest copied to ttyS1.
//
//	go run ./testdata/faultmod/capture [-arch ARCH] -kernel vmlinux -ko faultmod.ko -out DIR [fault...]
//	go run ./testdata/faultmod/capture -abi 6.12.117+deb13-amd64 -out DIR [fault...]
//
// With -abi the kernel comes from kmodvm's kernel cache and faultmod is
// built for it (W=1) with the toolchain kmodvm would use; the kernel's
// architecture is then the entry's.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
	"github.com/u-root/u-root/pkg/cpio"
)

var allFaults = []string{
	"initfail", "warn", "oops", "bug", "panic", "hang", "softlockup", "atomic",
	"leak", "usercopy", "overflow", "gpf", "list", "refcount", "rcustall", "nmi",
}

// cpus holds the faults that need more than one CPU.
var cpus = map[string]int{"rcustall": 2}

// spin is the kernel parameter that makes the lockups last 45 s: the soft
// lockup detector needs 20 s without a console line (each line written to
// the 8250 console resets it), which a busy host can make hard to get in 30.
const spin = "faultmod_arg=45"

var extraAppend = map[string][]string{
	"softlockup": {spin},
	"rcustall":   {spin},
	"nmi":        {spin},
}

// faultOf maps a capture to the fault it triggers when the names differ.
// nmi is the soft lockup cut short by the host's timeout: qemu.Run injects
// an NMI, and the guest's NMI panic names the spinning code.
var faultOf = map[string]string{"nmi": "softlockup"}

// timeouts holds the runs that must end in a host timeout.
var timeouts = map[string]time.Duration{"nmi": 12 * time.Second}

func main() {
	kernelPath := flag.String("kernel", "", "kernel to boot (vmlinux or bzImage)")
	ko := flag.String("ko", "", "faultmod.ko built for that kernel")
	abi := flag.String("abi", "", "kernel from kmodvm's cache to build faultmod for and boot")
	out := flag.String("out", "", "directory for NAME.console and NAME.kmsg")
	archName := flag.String("arch", arch.Default, "architecture of -kernel")
	flag.Parse()
	if (*abi == "") == (*kernelPath == "" || *ko == "") || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	faults := flag.Args()
	if len(faults) == 0 {
		faults = allFaults
	}
	tmp, err := os.MkdirTemp("", "faultmod-capture-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if *abi != "" {
		if *kernelPath, *ko, *archName, err = buildFor(*abi, tmp); err != nil {
			log.Fatal(err)
		}
	}
	a, err := arch.Lookup(*archName)
	if err != nil {
		log.Fatal(err)
	}
	initrd, err := buildInitramfs(tmp, *ko, a.GoEnv())
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range faults {
		if err := capture(a.Name, *kernelPath, initrd, *out, f); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
	}
}

func capture(archName, kernel, initrd, out, fault string) error {
	con, err := os.Create(filepath.Join(out, fault+".console"))
	if err != nil {
		return err
	}
	defer con.Close()
	kmsg, err := os.Create(filepath.Join(out, fault+".kmsg"))
	if err != nil {
		return err
	}
	defer kmsg.Close()
	trigger := fault
	if f, ok := faultOf[fault]; ok {
		trigger = f
	}
	timeout := 2 * time.Minute
	if t, ok := timeouts[fault]; ok {
		timeout = t
	}
	res, err := qemu.Run(context.Background(), qemu.Config{
		Arch:   archName,
		Kernel: kernel,
		Initrd: initrd,
		Append: append([]string{"loglevel=7", "faultmod=" + trigger}, extraAppend[fault]...),
		// The trigger copies the kernel log to the second port, ttyS1.
		Serial:  []qemu.Port{{Name: "console", Output: con}, {Name: "kmsg", Output: kmsg}},
		Timeout: timeout,
		CPUs:    cpus[fault],
	})
	if err != nil {
		return err
	}
	log.Printf("%s: %s after %v", fault, res.Exit, res.Duration.Round(time.Millisecond))
	return nil
}

// buildFor builds faultmod for a cached kernel and returns the kernel's
// boot image, the module and the kernel's architecture.
func buildFor(abi, tmp string) (bootImage, ko, archName string, err error) {
	cache := &kernel.Cache{Dir: kernel.DefaultCacheDir()}
	k, err := cache.ByABI(abi)
	if err != nil {
		return "", "", "", fmt.Errorf("kernel %s not in %s (fetch it with kmodvm first): %w", abi, cache.Dir, err)
	}
	ctx := context.Background()
	tcs := &toolchain.Set{Dir: cache.Layout().Toolchains(), Log: os.Stderr}
	tc, err := tcs.For(ctx, k)
	if err != nil {
		return "", "", "", err
	}
	res, err := kbuild.Build(ctx, k, tc, kbuild.Options{
		Source:   "testdata/faultmod",
		Out:      filepath.Join(tmp, "build"),
		MakeArgs: []string{"W=1"},
	})
	if err != nil {
		if res != nil {
			os.Stderr.Write(res.Log)
		}
		return "", "", "", err
	}
	for _, w := range res.Warnings {
		log.Printf("warning: %s", w)
	}
	if len(res.Modules) != 1 {
		return "", "", "", fmt.Errorf("build made %d modules", len(res.Modules))
	}
	log.Printf("built %s for %s with %s", res.Modules[0].Path, k.Name, res.Toolchain)
	return k.BootImage(), res.Modules[0].Path, k.Arch, nil
}

// buildInitramfs packs the trigger, built with genv (GOARCH, GOARM), as
// /init and the module as /faultmod.ko.
func buildInitramfs(dir, ko string, genv []string) (string, error) {
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/faultmod/trigger")
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), genv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build trigger: %v: %s", err, out)
	}
	initBytes, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	koBytes, err := os.ReadFile(ko)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "initramfs.cpio")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := cpio.Newc.Writer(f)
	records := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("proc", 0o755),
		cpio.Directory("sys", 0o755),
		cpio.StaticFile("init", string(initBytes), 0o755),
		cpio.StaticFile("faultmod.ko", string(koBytes), 0o644),
	}
	if err := cpio.WriteRecordsAndDirs(w, records); err != nil {
		return "", err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return "", err
	}
	return path, f.Close()
}
