package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/kernel/kerneltest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// Host-side faults that only the real binary shows: its environment (PATH,
// TMPDIR, the network), signals, other kmodvm processes, a full disk. Each
// test builds kmodvm, runs it as a user would and checks its exit status,
// what it printed and the report.json it left.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// kmodvmBinary builds this command once per test run.
func kmodvmBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds kmodvm and boots kernels")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "kmodvm-cli-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kmodvm")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("%w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

// repo returns the absolute path of p, relative to the repository root.
func repo(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", p))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// cliRun is one finished kmodvm process.
type cliRun struct {
	code           int
	stdout, stderr string
	report         *report.Report // out/report.json, if written
}

func (r cliRun) output() string { return r.stdout + r.stderr }

// kmodvm starts the binary with env added to the test's environment and
// the given arguments, from the repository root. The caller waits.
func kmodvm(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, io.Reader) {
	t.Helper()
	return kmodvmIn(t, repo(t, "."), env, args...)
}

// kmodvmIn is kmodvm run from the directory dir.
func kmodvmIn(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, io.Reader) {
	t.Helper()
	cmd := exec.Command(kmodvmBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that a signal to the group (a terminal's
	// Ctrl-C) reaches kmodvm and its children but not this test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	return cmd, &stdout, stderr
}

// finish waits for cmd and collects what it left in out.
func finish(t *testing.T, cmd *exec.Cmd, stdout *bytes.Buffer, stderr string, out string) cliRun {
	t.Helper()
	err := cmd.Wait()
	r := cliRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr}
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || !ee.Exited()) {
		t.Fatalf("kmodvm did not exit: %v\n%s", err, r.output())
	}
	if f, err := os.Open(filepath.Join(out, "report.json")); err == nil {
		defer f.Close()
		if r.report, err = report.ReadJSON(f); err != nil {
			t.Errorf("report.json: %v", err)
		}
	}
	t.Logf("kmodvm exited %d\nstdout:\n%s\nstderr (tail):\n%s", r.code, r.stdout, tail(r.stderr, 15))
	return r
}

// runKmodvm runs kmodvm to its end.
func runKmodvm(t *testing.T, env []string, out string, args ...string) cliRun {
	t.Helper()
	cmd, stdout, stderr := kmodvm(t, env, append(args, "--out", out)...)
	b, _ := io.ReadAll(stderr)
	return finish(t, cmd, stdout, string(b), out)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

func cacheFlag() []string { return []string{"--cache", kernel.DefaultCacheDir()} }

// steady runs the one passing test of testdata/hostfaults/steady.
func steady(t *testing.T, kernels string) []string {
	return []string{"run", "--kernels", kernels, "--tests", repo(t, "testdata/hostfaults/steady"), "--test-arg", "-test.run=^TestAPass$"}
}

// pathWithout returns a directory that holds links to every program on
// PATH except those whose name starts with one of drop.
func pathWithout(t *testing.T, drop ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		ents, _ := os.ReadDir(d)
	next:
		for _, e := range ents {
			for _, p := range drop {
				if strings.HasPrefix(e.Name(), p) {
					continue next
				}
			}
			os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name())) // the first on PATH wins
		}
	}
	return dir
}

func TestCLIWithoutQEMUNamesThePackageToInstall(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	r := runKmodvm(t, []string{"PATH=" + pathWithout(t, "qemu-system-")}, out, append(steady(t, "6.1"), cacheFlag()...)...)
	if r.code != exitInfra {
		t.Errorf("exit %d, want %d", r.code, exitInfra)
	}
	if !strings.Contains(r.output(), "qemu-system-x86_64") || !strings.Contains(r.output(), "apt-get install qemu-system-x86") {
		t.Errorf("the output does not name the missing program and its package")
	}
	if r.report == nil || r.report.Kernels[0].Status != report.Error {
		t.Errorf("report.json: %+v, want the kernel as an infrastructure error", r.report)
	}
}

// TestCLIKernelMissingWithoutNetwork runs with an empty cache and a mirror
// that refuses connections: the Debian 6.1 is an infrastructure error with
// a one-line cause, and a local kernel of the same run passes.
func TestCLIKernelMissingWithoutNetwork(t *testing.T) {
	t.Parallel()
	local := kerneltest.Get(t, "6.1").BootImage()
	out := t.TempDir()
	r := runKmodvm(t, []string{
		"KMODVM_DEBIAN_MIRROR=http://127.0.0.1:9/debian",
		"KMODVM_DEBIAN_SECURITY_MIRROR=http://127.0.0.1:9/debian-security",
	}, out, append(steady(t, "6.1,"+local), "--cache", t.TempDir())...)
	if r.code != exitInfra {
		t.Errorf("exit %d, want %d", r.code, exitInfra)
	}
	if r.report == nil || len(r.report.Kernels) != 2 {
		t.Fatalf("report.json: %+v", r.report)
	}
	debian, own := r.report.Kernels[0], r.report.Kernels[1]
	t.Logf("6.1 reported: %s: %s", debian.Status, debian.Error)
	if debian.Status != report.Error || debian.Error == "" || strings.Contains(debian.Error, "\n") || !strings.Contains(debian.Error, "127.0.0.1:9") {
		t.Errorf("6.1: %s %q, want an infrastructure error with a one-line cause naming the mirror", debian.Status, debian.Error)
	}
	if own.Status != report.Pass {
		t.Errorf("local kernel: %s (%s), want pass", own.Status, own.Error)
	}
}

// TestCLITwoRunsShareACache starts two runs at once on one cache, with a
// module and a test package new to it, so that both build and store the
// same module build and image layers at the same time.
func TestCLITwoRunsShareACache(t *testing.T) {
	t.Parallel()
	kmodvmBinary(t) // here, not in the goroutines below: it may skip
	nonce := rand.Text()
	src := t.TempDir()
	mod, tests := filepath.Join(src, "newapi"), filepath.Join(src, "steady")
	copyDir(t, repo(t, "testdata/hostfaults/newapi"), mod, "/* "+nonce+" */\n")
	copyDir(t, repo(t, "testdata/hostfaults/steady"), tests, "// "+nonce+"\n")
	if err := os.WriteFile(filepath.Join(tests, "go.mod"), []byte("module example.com/steady\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--kernels", "6.12", "--module", mod, "--tests", tests, "--test-arg", "-test.run=^TestAPass$"}, cacheFlag()...)
	outs := []string{t.TempDir(), t.TempDir()}
	var runs [2]cliRun
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, stdout, stderr := kmodvm(t, nil, append(slices.Clip(args), "--out", outs[i])...)
			b, _ := io.ReadAll(stderr)
			runs[i] = finish(t, cmd, stdout, string(b), outs[i])
		}()
	}
	wg.Wait()
	for i, r := range runs {
		if r.code != exitOK || r.report == nil || r.report.Failed() {
			t.Errorf("run %d: exit %d, want both runs to pass", i+1, r.code)
		}
	}
}

// copyDir copies the regular files of from into a new directory to,
// prepending head to each .c and .go file so that its content is new.
func copyDir(t *testing.T, from, to, head string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if ext := filepath.Ext(e.Name()); ext == ".c" || ext == ".go" {
			b = append([]byte(head), b...)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// processes returns the pids and programs of the processes whose command
// line mentions path (a run's initramfs and module builds live under its
// --out), QEMU's only if qemu is set.
func processes(path string, qemu bool) []string {
	ents, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv0, _, _ := strings.Cut(string(b), "\x00")
		if strings.Contains(string(b), path) && (!qemu || strings.HasPrefix(filepath.Base(argv0), "qemu-system")) {
			found = append(found, e.Name()+" "+argv0)
		}
	}
	return found
}

// TestCLIInterruptLeavesNothingBehind sends Ctrl-C's SIGINT to kmodvm's
// process group while its first VM runs a long test, and while make and
// the compiler build a module: kmodvm must exit 3 at once, leave no
// process and no temporary directory behind, and write a report.json
// marked partial.
func TestCLIInterruptLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	kmodvmBinary(t)
	fresh := filepath.Join(t.TempDir(), "newapi") // a module the build cache has not seen
	copyDir(t, repo(t, "testdata/hostfaults/newapi"), fresh, "/* "+rand.Text()+" */\n")
	for _, c := range []struct {
		phase string
		wait  time.Duration
		args  []string
	}{
		{"tests", 2 * time.Second, []string{"--kernels", "6.1,5.10"}},
		{"build", 300 * time.Millisecond, []string{"--kernels", "6.12,7.3", "--module", fresh}},
	} {
		t.Run("during "+c.phase, func(t *testing.T) {
			out, tmp := t.TempDir(), t.TempDir()
			cmd, stdout, stderr := kmodvm(t, []string{"TMPDIR=" + tmp}, append([]string{"run", "--jobs", "1", "--out", out,
				"--tests", repo(t, "testdata/hostfaults/steady"), "--cache", kernel.DefaultCacheDir()}, c.args...)...)
			var log strings.Builder
			sc := bufio.NewScanner(stderr)
			var interrupted time.Time
			for sc.Scan() {
				log.WriteString(sc.Text() + "\n")
				if interrupted.IsZero() && strings.HasSuffix(strings.TrimSpace(sc.Text()), " "+c.phase) {
					if c.phase == "tests" {
						// The interrupt lands while a VM runs (a busy
						// machine may start it late): waited for, then
						// paced into its test.
						for deadline := time.Now().Add(30 * time.Second); len(processes(out, true)) == 0; time.Sleep(20 * time.Millisecond) {
							if time.Now().After(deadline) {
								t.Fatalf("no QEMU ran for %s within 30 s of its tests", out)
							}
						}
					}
					time.Sleep(c.wait)
					syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
					interrupted = time.Now()
				}
			}
			r := finish(t, cmd, stdout, log.String(), out)
			if interrupted.IsZero() {
				t.Fatalf("the run never reached %s", c.phase)
			}
			if took := time.Since(interrupted); took > 15*time.Second {
				t.Errorf("kmodvm took %s to exit after SIGINT", took.Round(time.Second))
			}
			if r.code != exitInfra || !strings.Contains(r.stderr, "partial") {
				t.Errorf("exit %d, want %d and a word that the reports are partial", r.code, exitInfra)
			}
			if left := processes(out, false); len(left) > 0 {
				t.Errorf("processes outlived kmodvm: %q", left)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
				t.Errorf("left in TMPDIR: %q", left)
			}
			if r.report == nil || !r.report.Partial || len(r.report.Kernels) != 2 {
				t.Fatalf("report.json = %+v, want one marked partial with both kernels", r.report)
			}
			for _, k := range r.report.Kernels {
				t.Logf("%s: %s: %s", k.Name, k.Status, firstLineOf(k.Error))
				if k.Status == report.Pass || k.Error == "" {
					t.Errorf("%s: %s %q, want it marked as interrupted", k.Name, k.Status, k.Error)
				}
			}
		})
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestCLIDiskFull writes the artifacts to a tiny tmpfs: kmodvm must say
// the disk is full and exit 3, not hang, crash or blame the module.
func TestCLIDiskFull(t *testing.T) {
	t.Parallel()
	kmodvmBinary(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	for _, c := range []struct {
		name, size string
		args       []string
	}{
		{"the guest image does not fit", "1m", steady(t, "6.1")},
		{"not even the build log fits", "64k", append(steady(t, "6.12"), "--module", repo(t, "testdata/hostfaults/newapi"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+c.size, "kmodvm-test-full", out).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs: %v: %s", err, b)
			}
			defer exec.Command("umount", out).Run()
			r := runKmodvm(t, nil, out, append(c.args, cacheFlag()...)...)
			if r.code != exitInfra {
				t.Errorf("exit %d, want %d", r.code, exitInfra)
			}
			if !strings.Contains(r.output(), "no space left on device") {
				t.Errorf("the output does not say the disk is full")
			}
			if strings.Contains(r.output(), "panic:") || strings.Contains(r.output(), "kmodvm bug") {
				t.Errorf("kmodvm crashed")
			}
		})
	}
}
