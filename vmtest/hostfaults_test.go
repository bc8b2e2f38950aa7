package vmtest_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/debianprov"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// Host-side faults: the VM's host breaks (QEMU dies or cannot start, a
// kernel cannot be had, a module does not build on one kernel) or a guest
// test binary dies. Each test checks what kmodvm reports for the broken
// kernel and that the other kernels of the same run are unaffected. The
// faults that need the CLI (a PATH without QEMU, SIGINT, two processes, a
// full disk) are in cmd/kmodvm/cli_test.go.

const hostfaults = "../testdata/hostfaults/"

// hostRun runs cfg (with OutDir set to a fresh directory) and returns the
// report.
func hostRun(t *testing.T, cfg vmtest.Config) *report.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	if cfg.OutDir == "" {
		cfg.OutDir = t.TempDir()
	}
	rep, err := vmtest.RunMatrix(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// bySeries returns the kernel of rep whose name starts with series and a
// dot ("6.1" finds 6.1.0-57-amd64, not 6.12).
func bySeries(t *testing.T, rep *report.Report, series string) *report.Kernel {
	t.Helper()
	for _, k := range rep.Kernels {
		if strings.HasPrefix(k.Name, series+".") || k.Selector == series {
			return k
		}
	}
	t.Fatalf("no %s kernel in the report", series)
	return nil
}

func wantPass(t *testing.T, k *report.Kernel) {
	t.Helper()
	if k.Status != report.Pass {
		t.Errorf("%s: %s (%s), want pass: a fault elsewhere must not affect it", k.Name, k.Status, k.Error)
	}
	if c := k.Counts(); c.Pass == 0 || c.Fail+c.Other > 0 {
		t.Errorf("%s: counts %+v, want passes only", k.Name, c)
	}
}

// qemuProcesses returns the pids of the QEMU processes whose command line
// mentions path: each run's initramfs lives under its own OutDir, so a
// run's VMs are told from everyone else's on a shared machine.
func qemuProcesses(path string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv0, _, _ := strings.Cut(string(b), "\x00")
		if strings.HasPrefix(filepath.Base(argv0), "qemu-system") && strings.Contains(string(b), path) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHostFaultQEMUKilledIsRetriedOnceThenAnInfraError kills QEMU with
// SIGKILL as soon as the guest agent says hello: on 5.10 once (the retry
// must pass), on 6.1 every time (the kernel must be an infrastructure error
// after two attempts, and 5.10 unaffected).
func TestHostFaultQEMUKilledIsRetriedOnceThenAnInfraError(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	var mu sync.Mutex
	kills := map[string]int{}
	rep := hostRun(t, vmtest.Config{
		Kernels:  []string{"6.1", "5.10"},
		Tests:    []string{hostfaults + "steady"},
		TestArgs: []string{"-test.run=^TestAPass$"},
		OutDir:   out,
		Jobs:     2,
		Progress: func(s vmtest.Step) {
			if s.Phase != vmtest.PhaseTests || s.Detail != "" {
				return // not the hello
			}
			series, _, _ := strings.Cut(s.Kernel, "-")
			series = series[:strings.LastIndexByte(series, '.')]
			mu.Lock()
			defer mu.Unlock()
			if series == "5.10" && kills[series] > 0 {
				return
			}
			for _, pid := range qemuProcesses(filepath.Join(out, s.Kernel)) {
				if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
					kills[series]++
				}
			}
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if kills["6.1"] != 2 || kills["5.10"] != 1 {
		t.Fatalf("QEMU killed %v times, want 6.1 twice and 5.10 once: the guest finished before the kill?", kills)
	}
	hit := bySeries(t, rep, "6.1")
	t.Logf("6.1 reported: %s: %s", hit.Status, hit.Error)
	if hit.Status != report.Error || hit.Boot == nil || hit.Boot.Attempt != 2 || hit.Boot.Exit != "crash" {
		t.Errorf("6.1: status %s, boot %+v, want an infrastructure error after 2 attempts ending in a crash", hit.Status, hit.Boot)
	}
	if !strings.Contains(hit.Error, "QEMU died (signal: killed) (after 2 attempts)") {
		t.Errorf("6.1: error %q, want it to say QEMU was killed, twice", hit.Error)
	}
	if !rep.InfraError() {
		t.Error("the report has no infrastructure error")
	}
	retried := bySeries(t, rep, "5.10")
	wantPass(t, retried)
	if retried.Boot == nil || retried.Boot.Attempt != 2 {
		t.Errorf("5.10: boot %+v, want it passed on the second attempt", retried.Boot)
	}
}

// TestHostFaultQEMUFailsToStart asks for more guest memory than the host
// can map: QEMU itself refuses to start, and its own words reach the
// report.
func TestHostFaultQEMUFailsToStart(t *testing.T) {
	t.Parallel()
	k := hostRun(t, vmtest.Config{
		Kernels:   []string{"6.1"},
		Tests:     []string{hostfaults + "steady"},
		TestArgs:  []string{"-test.run=^TestAPass$"},
		MemoryMiB: 100_000_000,
	}).Kernels[0]
	t.Logf("reported: %s: %s", k.Status, k.Error)
	if k.Status != report.Error || k.Boot == nil || k.Boot.Exit != "qemu-error" {
		t.Fatalf("status %s, boot %+v, want an infrastructure error with exit qemu-error", k.Status, k.Boot)
	}
	if !strings.Contains(k.Error, "QEMU could not start the VM") || !strings.Contains(k.Error, "cannot set up guest memory") {
		t.Errorf("error %q, want it to say QEMU did not start, in QEMU's own words", k.Error)
	}
}

// TestHostFaultTestBinaryCrashes runs two guest packages whose binaries
// die in the middle of a test: by SIGSEGV, and by os.Exit(3). Each dying
// test is a crash that names how its binary ended, the tests before it
// pass, the test after it is listed not run, saying its binary ended, and
// the second binary runs after the first one died.
func TestHostFaultTestBinaryCrashes(t *testing.T) {
	t.Parallel()
	k := hostRun(t, vmtest.Config{
		Kernels: []string{"6.1"},
		Tests:   []string{hostfaults + "segv", hostfaults + "exit3"},
	}).Kernels[0]
	if k.Status != report.Fail {
		t.Errorf("kernel %s (%s), want fail: a crashing test is the module's failure, not kmodvm's", k.Status, k.Error)
	}
	for _, c := range []struct{ pkg, test, exit string }{
		{"segv", "TestSegfault", "killed by signal SIGSEGV"},
		{"exit3", "TestExit3", "exit status 3"},
	} {
		var crashed, passed bool
		for _, tt := range k.Tests {
			if !strings.Contains(tt.Package, c.pkg) {
				continue
			}
			switch tt.Name {
			case c.test:
				crashed = true
				t.Logf("%s reported: %s: %s", c.test, tt.Status, lastLine(tt.Output))
				if tt.Status != report.Crash || !strings.Contains(tt.Output, c.exit) {
					t.Errorf("%s: %s, want crash saying %q:\n%s", c.test, tt.Status, c.exit, tt.Output)
				}
			case "TestAPass":
				passed = tt.Status == report.Pass
			case "TestZNeverRuns":
				if tt.Status != report.NotRun || !strings.HasPrefix(tt.Output, "not run: their binary ended before it ran") {
					t.Errorf("%s is %s after its binary died, want not run saying why:\n%s", tt.Name, tt.Status, tt.Output)
				}
			}
		}
		if !crashed || !passed {
			t.Errorf("%s: crash test reported %v, TestAPass passed %v; tests %+v", c.pkg, crashed, passed, k.Tests)
		}
	}
}

// TestHostFaultModuleFailsToBuildOnOneKernel builds a module that needs
// the two-argument strscpy() of newer kernels: 6.1 fails with the
// compiler's diagnostic, 6.12 loads the module and passes.
func TestHostFaultModuleFailsToBuildOnOneKernel(t *testing.T) {
	t.Parallel()
	rep := hostRun(t, vmtest.Config{
		Kernels:  []string{"6.1", "6.12"},
		Modules:  []string{hostfaults + "newapi"},
		Tests:    []string{hostfaults + "steady"},
		TestArgs: []string{"-test.run=^TestAPass$"},
	})
	old := bySeries(t, rep, "6.1")
	if old.Status != report.Fail || old.Build == nil || old.Build.Status != report.Fail || old.Boot != nil {
		t.Fatalf("6.1: %s, build %+v, boot %+v: want a build failure and no boot", old.Status, old.Build, old.Boot)
	}
	t.Logf("6.1 reported: %s: %s; %d compiler errors", old.Status, old.Error, len(old.Build.Errors))
	found := false
	for _, d := range old.Build.Errors {
		t.Logf("  %s", d)
		found = found || (strings.HasSuffix(d.File, "newapi/newapi.c") && d.Line > 0 && strings.Contains(d.Message, "strscpy"))
	}
	if !found {
		t.Errorf("6.1: build errors %+v, want the compiler's error about strscpy in newapi.c", old.Build.Errors)
	}
	cur := bySeries(t, rep, "6.12")
	wantPass(t, cur)
	if len(cur.Modules) != 1 || cur.Modules[0].Name != "newapi" || cur.Modules[0].Load != report.Pass {
		t.Errorf("6.12: modules %+v, want newapi loaded", cur.Modules)
	}
}

// TestHostFaultKernelMissingOffline asks, offline, for a 6.1 build the
// archive has but the cache does not: that kernel is an infrastructure
// error with a one-line cause, and the cached 6.1 runs as usual.
func TestHostFaultKernelMissingOffline(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	f := debianprov.NewFetcher(&kernel.Cache{Dir: kernel.DefaultCacheDir()}, true, nil)
	ix, err := debianprov.Of(f).Index(t.Context())
	if err != nil {
		t.Skipf("no cached archive index to pick an uncached kernel from: %v", err)
	}
	missing := ""
	for _, b := range debianprov.Builds(ix) {
		if _, err := f.Cache.ByABI(b.ABI); err != nil && b.Series == "6.1" && b.Flavour == "amd64" {
			missing = b.ABI
			break
		}
	}
	if missing == "" {
		t.Skip("every 6.1 build of the index is cached")
	}
	rep := hostRun(t, vmtest.Config{
		Kernels:  []string{missing, "6.1"},
		Tests:    []string{hostfaults + "steady"},
		TestArgs: []string{"-test.run=^TestAPass$"},
		Offline:  true,
	})
	k := rep.Kernels[0]
	t.Logf("%s reported: %s: %s", missing, k.Status, k.Error)
	if k.Status != report.Error || !strings.Contains(k.Error, "not in the cache") || strings.Contains(k.Error, "\n") {
		t.Errorf("%s: %s %q, want an infrastructure error with a one-line cause", missing, k.Status, k.Error)
	}
	wantPass(t, rep.Kernels[1])
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// damagedCache returns a private cache holding the shared cache's 6.1
// entry with its vmlinux cut in half, the archive index, and (linked, not
// copied) the packages left (none, once fetches have removed them) and
// image layers. The damaged file is a
// new one: the shared entry is untouched.
func damagedCache(t *testing.T) string {
	t.Helper()
	k := kerneltest.Get(t, "6.1")
	shared, dir := cachedir.Layout{Root: kernel.DefaultCacheDir()}, cachedir.Layout{Root: t.TempDir()}
	entry := dir.Kernel(k.ID)
	for _, c := range [][]string{
		{"mkdir", "-p", dir.ByABI(), dir.Apt()},
		{"cp", "-al", k.Dir, entry},
		{"cp", "-al", filepath.Dir(shared.Debs()), shared.Layers(), dir.Root},
		{"cp", filepath.Join(shared.Apt(), "index.json"), dir.Apt()},
		{"ln", "-s", filepath.Join("..", k.ID), filepath.Join(dir.ByABI(), k.ABI)},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	rel, err := filepath.Rel(k.Dir, k.Vmlinux) // vmlinux, or vmlinux.zst
	if err != nil {
		t.Fatal(err)
	}
	vmlinux := filepath.Join(entry, rel)
	b, err := os.ReadFile(vmlinux)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(vmlinux); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vmlinux, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return dir.Root
}

// TestHostFaultDamagedCacheEntry runs 6.1 from a cache whose entry lost
// half its vmlinux: online, kmodvm must notice, prepare the entry again
// from the packages (downloaded again) and pass; offline, it must say the
// entry is damaged.
func TestHostFaultDamagedCacheEntry(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	for _, offline := range []bool{false, true} {
		t.Run(fmt.Sprintf("offline=%v", offline), func(t *testing.T) {
			cache := damagedCache(t)
			var log strings.Builder
			k := hostRun(t, vmtest.Config{
				Kernels:  []string{"6.1"},
				Tests:    []string{hostfaults + "steady"},
				TestArgs: []string{"-test.run=^TestAPass$"},
				CacheDir: cache,
				Offline:  offline,
				Log:      &syncWriter{w: &log},
			}).Kernels[0]
			t.Logf("reported: %s: %s\nlog:\n%s", k.Status, k.Error, log.String())
			if !offline {
				wantPass(t, k)
				return
			}
			if k.Status != report.Error || !strings.Contains(k.Error, "corrupt") && !strings.Contains(k.Error, "damaged") {
				t.Errorf("%s %q, want an infrastructure error saying the cache entry is damaged", k.Status, k.Error)
			}
		})
	}
}

// syncWriter serializes writes from the kernels of a run.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
