// Command debugkernel measures kmodvm's debug kernels and writes the
// "Debug kernels" section of bench/RESULTS.md: the cold build of a
// source-built kernel into an empty cache, its warm fetch, the size of its
// cache entry, and its boot and the bundled suite next to the stock kernel
// of its series, timed in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/bench/internal/machine"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

const (
	begin = "<!-- debug-kernels -->"
	end   = "<!-- /debug-kernels -->"
)

func main() {
	sel := flag.String("kernel", "6.1-debug", "the debug kernel selector")
	stock := flag.String("stock", "6.1", "the stock kernel to compare with")
	cold := flag.Bool("cold", true, "time a cold build into an empty temporary cache")
	out := flag.String("out", "bench/RESULTS.md", "results file whose debug section is replaced")
	note := flag.String("note", "", "a sentence about the conditions of this run, printed with the results")
	flag.Parse()
	ctx := context.Background()
	s, err := kernel.ParseSelector(*sel)
	check(err)
	tmp, err := os.MkdirTemp("", "kmodvm-bench-debug-")
	check(err)
	defer os.RemoveAll(tmp)

	coldSecs, coldIndex, coldCPU, coldSize := -1.0, -1.0, -1.0, "-"
	if *cold {
		f := vmtest.NewFetcher(filepath.Join(tmp, "cache"), false, os.Stderr, nil)
		coldIndex = timeIt(func() { _, err := debianprov.Of(f).Index(ctx); check(err) })
		// make and the compilers are this process's children: their CPU
		// time says what the build costs, whatever else loads the machine.
		before := childCPU()
		var ck *kernel.Kernel
		coldSecs = timeIt(func() { ck, err = f.Fetch(ctx, s); check(err) })
		coldCPU = childCPU() - before
		coldSize = du(ck.Dir)
		os.RemoveAll(filepath.Join(tmp, "cache"))
	}
	f := vmtest.NewFetcher(kernel.DefaultCacheDir(), false, os.Stderr, nil)
	k, err := f.Fetch(ctx, s) // builds it when the cache lacks it
	check(err)
	off := vmtest.NewFetcher(kernel.DefaultCacheDir(), true, nil, nil)
	warm := timeIt(func() { _, err := off.Fetch(ctx, s); check(err) })

	run := func(kernels []string, mod, tests string) *report.Report {
		rep, err := vmtest.RunMatrix(ctx, vmtest.Config{Kernels: kernels, Modules: []string{mod}, Tests: []string{tests},
			OutDir: filepath.Join(tmp, "out-"+strings.Join(kernels, "-")), CPUs: 2, Jobs: 1})
		check(err)
		return rep
	}
	log.Print("boot: a do-nothing module and one empty test, stock then debug")
	nopStock := run([]string{*stock}, "bench/nopmod", "bench/emptytest")
	nopDebug := run([]string{*sel}, "bench/nopmod", "bench/emptytest")
	log.Print("the bundled suite, stock then debug")
	suiteStock := run([]string{*stock}, "kmod", "guest/mmapdrv")
	suiteDebug := run([]string{*sel}, "kmod", "guest/mmapdrv")

	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Debug kernels\n\nMeasured by `make bench-debug` (bench/debugkernel) on %s, on the machine described above:\n\n%s\n",
		begin, time.Now().UTC().Format("2006-01-02 15:04 MST"), machine.Describe())
	if *note != "" {
		fmt.Fprintf(&b, "Conditions: %s\n\n", *note)
	}
	fmt.Fprintf(&b, "| what | %s |\n|---|---|\n", k.Name)
	fmt.Fprintf(&b, "| built from | %s, %s |\n", k.Origin, k.Compiler)
	if coldSecs >= 0 {
		fmt.Fprintf(&b, "| cold build into an empty cache (download, unpack, configure, compile, install, trim; index update of %.0f s not counted) | %.0f s (%.1f min) wall |\n", coldIndex, coldSecs, coldSecs/60)
		fmt.Fprintf(&b, "| CPU time of that build's processes (user + system) | %.0f s: %.1f min on %d idle cores |\n", coldCPU, coldCPU/60/float64(runtime.NumCPU()), runtime.NumCPU())
	}
	fmt.Fprintf(&b, "| objects compiled | %s |\n", objects(filepath.Join(k.Dir, "build.log")))
	fmt.Fprintf(&b, "| warm fetch (offline, verified) | %.2f s |\n", warm)
	fmt.Fprintf(&b, "| cache entry on disk (the cold build's; the cached one's) | %s; %s |\n", coldSize, du(k.Dir))
	fmt.Fprintf(&b, "| boot image | %s |\n", bootImage(k, nopDebug.Kernels[0]))
	b.WriteString("\nSame run, one kernel at a time, 2 guest CPUs, TCG; boot is VM start to the agent's hello:\n\n")
	b.WriteString("| kernel | nop module: boot | nop module: total | bundled suite: boot | suite: tests | suite: result |\n|---|---|---|---|---|---|\n")
	for _, r := range [][2]*report.Report{{nopStock, suiteStock}, {nopDebug, suiteDebug}} {
		n, sk := r[0].Kernels[0], r[1].Kernels[0]
		c := sk.Counts()
		fmt.Fprintf(&b, "| %s | %.1f s | %.1f s | %.1f s | %.1f s | %s, %d passed, %d failed, %d kernel-log bugs |\n",
			n.Name, n.Timing.Boot, n.Timing.Total, sk.Timing.Boot, sk.Timing.Tests, sk.Status, c.Pass, c.Fail, len(sk.Bugs()))
	}
	b.WriteString(end + "\n")
	old, _ := os.ReadFile(*out)
	check(os.WriteFile(*out, []byte(replaceSection(string(old), b.String())), 0o644))
	fmt.Print(b.String())
}

// replaceSection puts section in place of the old one, or at the end.
func replaceSection(doc, section string) string {
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i >= 0 && j > i {
		return doc[:i] + section + doc[j+len(end)+1:]
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section
}

var ccLine = regexp.MustCompile(`(?m)^  CC `)

func objects(buildLog string) string {
	b, err := os.ReadFile(buildLog)
	if err != nil {
		return "-"
	}
	return fmt.Sprint(len(ccLine.FindAll(b, -1)))
}

func bootImage(k *kernel.Kernel, kr *report.Kernel) string {
	switch {
	case k.Vmlinux != "" && strings.Contains(kr.Note, "booted the bzImage"):
		return "bzImage, after the PVH vmlinux reset the guest at once (the boot times include that attempt)"
	case k.Vmlinux != "":
		return "PVH vmlinux"
	}
	return "bzImage"
}

func du(dir string) string {
	out, err := exec.Command("du", "-sh", dir).Output()
	if err != nil {
		return "-"
	}
	return strings.Fields(string(out))[0]
}

// childCPU is the user and system time of this process's waited-for
// children so far, in seconds.
func childCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func timeIt(fn func()) float64 {
	start := time.Now()
	fn()
	return time.Since(start).Seconds()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
