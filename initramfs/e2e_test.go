package initramfs

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/internal/zfile"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
)

// unpackedKernel returns the kernel at path as QEMU reads it: the cache
// keeps Debian's vmlinux zstd-compressed (vmtest/qemu unpacks it for its
// VMs; this test runs QEMU itself).
func unpackedKernel(t *testing.T, path string) string {
	t.Helper()
	if !strings.HasSuffix(path, ".zst") {
		return path
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".zst"))
	if err := zfile.Unpack(path, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// testKernel returns the kernel named by KMODVM_TEST_KERNEL (a vmlinux or
// vmlinuz) and its modules directory: KMODVM_TEST_MODULES, or a
// lib/modules/<abi> with modules.dep found near the kernel, or "".
func testKernel(t *testing.T) (kernel, modulesDir string) {
	t.Helper()
	kernel = os.Getenv("KMODVM_TEST_KERNEL")
	if kernel == "" {
		// Debian's 6.1 from the shared cache (fetched on first use).
		k := kerneltest.Get(t, "6.1")
		return unpackedKernel(t, k.BootImage()), k.ModulesDir
	}
	if _, err := os.Stat(kernel); err != nil {
		t.Fatalf("KMODVM_TEST_KERNEL: %v", err)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed")
	}
	if d := os.Getenv("KMODVM_TEST_MODULES"); d != "" {
		return kernel, d
	}
	dir := filepath.Dir(kernel)
	for _, pattern := range []string{"root/lib/modules/*", "lib/modules/*", "../lib/modules/*", "root/usr/lib/modules/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern, "modules.dep"))
		if len(matches) > 0 {
			return kernel, filepath.Dir(matches[0])
		}
	}
	return kernel, ""
}

// bootResult is what one VM run produced.
type bootResult struct {
	events  []event.Event
	stats   event.Stats
	console string
	wall    time.Duration
}

// boot runs the image under QEMU (q35, TCG) until the guest powers off.
func boot(t *testing.T, kernel, image string, timeout time.Duration) bootResult {
	t.Helper()
	dir := t.TempDir()
	console, events := filepath.Join(dir, "console.log"), filepath.Join(dir, "events.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-M", "q35", "-nodefaults", "-no-user-config",
		"-display", "none", "-m", "256", "-kernel", kernel, "-initrd", image,
		"-append", "console=ttyS0 quiet panic=-1 "+event.ParamEvents+"=/dev/ttyS1", "-no-reboot",
		"-serial", "file:"+console, "-serial", "file:"+events)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	con, _ := os.ReadFile(console)
	if ctx.Err() != nil {
		t.Fatalf("VM did not power off within %v; console:\n%s", timeout, con)
	}
	if err != nil {
		t.Fatalf("qemu: %v\n%s\nconsole:\n%s", err, out, con)
	}
	f, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := event.NewDecoder(f)
	var evs []event.Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return bootResult{events: evs, stats: d.Stats(), console: string(con), wall: wall}
}

// moduleWithDep picks an in-kernel module that needs another one, to stand
// in for a module under test.
func moduleWithDep(t *testing.T, modulesDir string) string {
	t.Helper()
	idx, err := moddep.Read(modulesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"videodev", "videobuf2_common", "snd_pcm"} {
		if e, ok := idx[name]; ok && len(e.Deps) > 0 {
			return filepath.Join(modulesDir, e.Path)
		}
	}
	t.Skipf("no known module with dependencies in %s", modulesDir)
	return ""
}

func TestBootRunsTestsAndReports(t *testing.T) {
	kernel, modulesDir := testKernel(t)
	base := baseLayer(t)
	b := &Builder{CacheDir: sharedCache}
	ctx := context.Background()
	tests, bins, err := b.Tests(ctx, []TestPackage{{Dir: "testdata/guestpkg"}})
	if err != nil {
		t.Fatal(err)
	}
	pass := bins[0]
	pass.Timeout = event.Duration(time.Minute)
	hang := bins[0]
	hang.Name, hang.Args, hang.Env = "hang", []string{"-test.run=TestHang$"}, []string{"GUESTPKG_HANG=1"}
	hang.Timeout = event.Duration(2 * time.Second)
	cfg := event.RunConfig{Tests: []event.TestBinary{pass, hang}, Unload: true}
	layers := append([]string{base}, tests...)
	var underTest string
	if modulesDir != "" {
		underTest = moduleWithDep(t, modulesDir)
		kl, mods, err := b.Kernel(ctx, KernelLayer{ModulesDir: modulesDir, Modules: []string{underTest}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Modules = mods
		layers = append(layers, kl)
	} else {
		t.Log("no modules directory found near the kernel: not loading modules")
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run.cpio")
	if err := WriteRun(run, cfg); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "image.cpio")
	if err := Concat(image, append(layers, run)...); err != nil {
		t.Fatal(err)
	}

	res := boot(t, kernel, image, 3*time.Minute)
	t.Logf("VM ran %v; %d events, decoder %+v", res.wall.Round(time.Millisecond), len(res.events), res.stats)
	checkRun(t, res, cfg, underTest)
}

// checkRun checks the event stream of TestBootRunsTestsAndReports.
func checkRun(t *testing.T, res bootResult, cfg event.RunConfig, underTest string) {
	t.Helper()
	evs := res.events
	if len(evs) == 0 || evs[0].Type != event.Hello || evs[0].Kernel == "" {
		t.Fatalf("first event is not a hello with the kernel release: %+v\nconsole:\n%s", evs, res.console)
	}
	if last := evs[len(evs)-1]; last.Type != event.Done || last.Err != "" {
		t.Fatalf("last event = %+v, want done without error", last)
	} else {
		t.Logf("done: %s", last.Msg)
	}
	if res.stats.Garbage+res.stats.Truncated+res.stats.Oversized+res.stats.WrongVersion != 0 {
		t.Errorf("damaged event stream: %+v", res.stats)
	}
	var loaded, unloaded []string
	results := map[string]string{}
	var kmsg []string
	var ends []event.Event
	for _, ev := range evs {
		switch ev.Type {
		case event.ModuleLoad:
			if ev.Err != "" {
				t.Errorf("load %s: %s (errno %d)", ev.Module.Name, ev.Err, ev.Errno)
			}
			loaded = append(loaded, ev.Module.Name)
		case event.ModuleUnload:
			if ev.Err != "" {
				t.Errorf("unload %s: %s", ev.Module.Name, ev.Err)
			}
			unloaded = append(unloaded, ev.Module.Name)
		case event.Test:
			if a := ev.Test.Action; a == "pass" || a == "fail" || a == "skip" {
				results[ev.Binary+"/"+ev.Test.Test] = a
			}
		case event.Kmsg:
			kmsg = append(kmsg, ev.Kmsg.Text)
		case event.KmsgBatch:
			recs, err := ev.Batch.Records()
			if err != nil {
				t.Errorf("kmsg batch: %v", err)
			}
			for _, r := range recs {
				kmsg = append(kmsg, r.Text)
			}
		case event.BinaryEnd:
			ends = append(ends, ev)
		}
	}
	if len(loaded) != len(cfg.Modules) {
		t.Errorf("loaded %v, want %d modules", loaded, len(cfg.Modules))
	}
	if underTest != "" && (len(unloaded) != 1 || unloaded[0] != moddep.Name(underTest)) {
		t.Errorf("unloaded %v, want only %s", unloaded, moddep.Name(underTest))
	}
	want := map[string]string{
		"guestpkg/TestReadsTestdata": "pass", "guestpkg/TestInGuest": "pass",
		"guestpkg/TestHang": "skip", "guestpkg/": "pass", "hang/": "fail",
	}
	for k, v := range want {
		if results[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, results[k], v, results)
		}
	}
	if !strings.HasPrefix(strings.Join(kmsg, "\n"), "Linux version") {
		t.Errorf("kernel log does not start at the first boot record: %.200q", kmsg)
	}
	if len(ends) != 2 || ends[0].Exit.Code != 0 || !ends[1].Exit.TimedOut {
		t.Fatalf("binary ends = %+v", ends)
	}
	bt := ends[1].Exit.BlockedTasks
	if !strings.Contains(bt, "Show Blocked State") || !strings.Contains(bt, "guestpkg.test") || !strings.Contains(bt, "state:D") {
		t.Errorf("blocked-task dump lacks the hung test:\n%s", bt)
	}
}
