package kernel

import (
	"bufio"
	"os"
	"strings"
	"time"
)

// Profile is how a kernel wants to be run, derived from its configuration:
// sanitizers need memory, slow everything down and take boot options of
// their own. A run's explicit settings override it.
type Profile struct {
	// MemoryMiB is the least guest RAM the kernel runs well with.
	MemoryMiB int
	// Slowdown is how many times longer than on a stock kernel a test takes
	// (KASAN about 3x, KCSAN and lockdep more): timeouts scale by it.
	Slowdown float64
	// BootTimeout bounds the boot to the guest agent.
	BootTimeout time.Duration
	// Append holds kernel parameters the configuration calls for.
	Append []string
	// CPUs is the guest CPU count the kernel's checkers need to see what
	// they look for; 0 leaves the VM's default (one).
	CPUs int
	// Sanitizers names the checkers built in, as reports show them
	// ("kasan", "kmemleak", "lockdep", "ubsan", "kcsan", "kfence").
	Sanitizers []string
	// KUnit and Gcov say whether modules may run KUnit suites and be built
	// with gcov profiling on this kernel.
	KUnit, Gcov bool
	// FaultInjection says that the kernel can make a task's N-th
	// allocation fail (CONFIG_FAULT_INJECTION: /proc/thread-self/fail-nth).
	FaultInjection bool
	// FaultFilter says that the kernel can hold injected failures to
	// calls from a span of code (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER:
	// require-start and require-end).
	FaultFilter bool
	// KCOV says code built with KCOV_INSTRUMENT=y reports its coverage
	// per task through /sys/kernel/debug/kcov: kmodvm fuzz needs it.
	KCOV bool
	// DebugInfo says that kbuild compiles modules for this kernel with
	// DWARF by itself (CONFIG_DEBUG_INFO, which Debian's kernels set).
	DebugInfo bool
}

// kcsanParams tune a KCSAN kernel to catch a race that lasts as long as
// a test does. KCSAN samples: out of every kcsan.skip_watch memory
// accesses a CPU makes (4000 by default, CONFIG_KCSAN_SKIP_WATCH; fewer
// at random) it watches one for up to kcsan.udelay_task microseconds,
// and a race is seen when the other CPU touches the same bytes in that
// window. Its defaults suit a fuzzer that runs for hours; a driver's
// test races for a second or two. Ten times as dense a sampling doubled
// the share of runs in which KCSAN reported testdata/kcsanrace's race
// within the 1.5 s of a suite's concurrency test (docs/kernels.md, "Data
// races", has the rates and the cost). They are boot parameters, not the
// configuration's defaults, so that changing them boots the cached kernel
// again instead of building a new one; --append after them overrides.
var kcsanParams = []string{"kcsan.skip_watch=400"}

// stockBootTimeout covers a stock kernel's boot under TCG with margin.
const stockBootTimeout = 90 * time.Second

// StockMemoryMiB is the guest RAM a kernel without sanitizers runs well
// with, and so what vmtest/qemu gives a VM that names none.
const StockMemoryMiB = 256

// Profile returns k's profile; a kernel without a readable config gets the
// stock one.
func (k *Kernel) Profile() Profile {
	cfg := readConfig(k.Config)
	p := Profile{MemoryMiB: StockMemoryMiB, Slowdown: 1, BootTimeout: stockBootTimeout}
	on := func(opt string) bool { return cfg["CONFIG_"+opt] == "y" }
	if on("KASAN") {
		// Shadow memory is 1/8 of RAM, and quarantine and redzones cost
		// about half the heap again (Documentation/dev-tools/kasan.rst).
		p.MemoryMiB = max(p.MemoryMiB, 1024)
		p.Slowdown *= 3
		// Generic KASAN reports only the first bug without it: one bug
		// must not hide the next test's.
		p.Append = append(p.Append, "kasan_multi_shot")
		p.Sanitizers = append(p.Sanitizers, "kasan")
	}
	if on("KCSAN") {
		p.MemoryMiB = max(p.MemoryMiB, 512)
		p.Slowdown *= 3
		// A data race is two accesses at once: on one CPU KCSAN sees
		// only a task's against an interrupt's.
		p.CPUs = max(p.CPUs, 2)
		p.Append = append(p.Append, kcsanParams...)
		p.Sanitizers = append(p.Sanitizers, "kcsan")
	}
	if on("DEBUG_KMEMLEAK") {
		p.MemoryMiB = max(p.MemoryMiB, 512)
		if on("DEBUG_KMEMLEAK_DEFAULT_OFF") {
			p.Append = append(p.Append, "kmemleak=on")
		}
		p.Sanitizers = append(p.Sanitizers, "kmemleak")
	}
	if on("PROVE_LOCKING") {
		p.Slowdown *= 1.5
		p.Sanitizers = append(p.Sanitizers, "lockdep")
	}
	if on("UBSAN") {
		p.Sanitizers = append(p.Sanitizers, "ubsan")
	}
	if on("KFENCE") {
		p.Sanitizers = append(p.Sanitizers, "kfence")
	}
	if on("PAGE_SIZE_16KB") {
		// Measured on Debian's 6.12 of 16 KiB pages in 256 MiB: 140 MiB
		// available after the image, the reserved memory and 64 MiB of
		// CMA, which vmalloc cannot use, and the slabs hold whole 16 KiB
		// pages (59 MiB at the OOM): a module's 64 MiB vmalloc buffer
		// finds no room. 320 MiB passed the bundled suite, 384 leaves a
		// margin.
		p.MemoryMiB = max(p.MemoryMiB, 384)
	}
	p.KUnit = on("KUNIT")
	p.Gcov = on("GCOV_KERNEL")
	p.FaultInjection = on("FAULT_INJECTION")
	p.FaultFilter = on("FAULT_INJECTION_STACKTRACE_FILTER")
	p.KCOV = on("KCOV")
	p.DebugInfo = on("DEBUG_INFO")
	if p.Slowdown > 1 {
		p.BootTimeout = time.Duration(float64(stockBootTimeout) * p.Slowdown)
	}
	return p
}

// readConfig reads a kernel .config into option -> value ("y", "m", a
// quoted string); a missing file gives an empty map.
func readConfig(path string) map[string]string {
	if path == "" {
		return map[string]string{}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return map[string]string{}
	}
	return ParseConfig(string(b))
}

// ParseConfig reads the text of a kernel .config (or a fragment) into
// option -> value: "CONFIG_KASAN" -> "y". Lines that set nothing ("# ...
// is not set", comments) are left out.
func ParseConfig(data string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			out[k] = v
		}
	}
	return out
}
