package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/bench/internal/machine"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// measurements are what RESULTS.md reports.
type measurements struct {
	cache     string
	ks        []*kernel.Kernel
	warmFetch float64
	colds     []coldFetch
	// loadStart is the load average when the rounds started.
	loadStart   string
	rounds      []processRound
	steal       string
	imageWarm   float64
	suite       *report.Report // the bundled suite, restored from snapshots
	bootedSuite *report.Report // and with every VM booted
}

// writeResults writes RESULTS.md to path, keeping the debug kernels'
// section of the file it replaces, and prints it.
func writeResults(path string, m measurements) {
	var b strings.Builder
	fmt.Fprintf(&b, "# kmodvm benchmark results\n\nMeasured by `make bench` (bench/main.go) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "## Machine\n\n%s- load average (1, 5, 15 min) when the rounds started: %s; when the report was written: %s (above %d, other work shared the CPUs: compare ratios, not seconds)\n"+
		"- CPU time stolen by the hypervisor during the rounds (/proc/stat): %s (other machines' work on the same host: it varies from second to second, hence the rounds' spread)\n\n",
		machine.Describe(), m.loadStart, loadAverage(), runtime.NumCPU(), m.steal)
	fmt.Fprintf(&b, "Kernels: %s, %d at a time (one per CPU), TCG, %d MiB; amd64 boots the PVH vmlinux (q35), arm64 the Image (virt, -cpu max,pauth-impdef=on).\n\n", strings.Join(names(m.ks), ", "), runtime.NumCPU(), qemu.DefaultMemoryMiB)
	writeProcessRounds(&b, m.rounds, names(m.ks))
	fmt.Fprintf(&b, "## Other measurements\n\n| what | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| warm guest-image build for one kernel (goal < 0.2 s) | %.3f s |\n", m.imageWarm)
	fmt.Fprintf(&b, "| warm fetch of %d kernels, offline | %.2f s |\n", len(m.ks), m.warmFetch)
	for _, r := range []struct {
		how, short string
		rep        *report.Report
	}{{"restored from snapshots", "restored", m.suite}, {"every VM booted, --no-snapshot", "booted", m.bootedSuite}} {
		fmt.Fprintf(&b, "| bundled mmapdrv suite on %d kernels (warm, W=0), %s | %.1f s |\n", len(m.ks), r.how, r.rep.Finished.Sub(r.rep.Started).Seconds())
		for _, k := range r.rep.Kernels {
			c := k.Counts()
			fmt.Fprintf(&b, "| %s: suite, %s | %s, %d passed, %d skipped; boot %.1f s, tests %.1f s |\n", k.Name, r.short, k.Status, c.Pass, c.Skip, k.Timing.Boot, k.Timing.Tests)
		}
	}
	b.WriteString("\n## Kernels: cold fetch and size on disk\n\n")
	b.WriteString("Cold: an empty cache, the archive index updated first (not counted per kernel), packages downloaded, verified, unpacked, depmod, vmlinux extracted.\n\n")
	b.WriteString("| kernel | cold fetch (s) | download (MB) | cache entry on disk |\n|---|---|---|---|\n")
	for i, k := range m.ks {
		// The entry fetched cold is laid out by this kmodvm; the default
		// cache's may be older and larger.
		c := coldFetch{secs: -1, mb: -1, entry: du(k.Dir)}
		if i < len(m.colds) {
			c = m.colds[i]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", k.Name, orDash(c.secs, "%.1f"), orDash(c.mb, "%.0f"), c.entry)
	}
	fmt.Fprintf(&b, "\nVM snapshots (one per kernel and machine shape; each kernel's counts with its entry): %s.\n", snapshotSizes(m.cache))
	if len(m.colds) > 0 {
		fmt.Fprintf(&b, "\nArchive index update (apt-get update of 7 suites, index of kernel packages): %.1f s.\n", m.colds[0].index)
	}
	// make bench-debug, make bench-fuzz and make bench-sweep write their
	// own sections (a debug kernel's cold build takes a quarter of an
	// hour, the fuzzing benchmark's tries and the sweeps minutes each);
	// keep them.
	if old, err := os.ReadFile(path); err == nil {
		for _, m := range [][2]string{{"<!-- debug-kernels -->", "<!-- /debug-kernels -->"}, {"<!-- fuzz -->", "<!-- /fuzz -->"}, {sweepBegin, sweepEnd}} {
			if sec := keepSection(string(old), m[0], m[1]); sec != "" {
				b.WriteString("\n" + sec)
			}
		}
	}
	check(os.WriteFile(path, []byte(b.String()), 0o644))
	fmt.Print(b.String())
}

func orDash(v float64, format string) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
