package main

import (
	"bufio"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIKilledMidBuildLeavesNoCompiler kills kmodvm alone with SIGKILL
// (no signal to its process group, no cleanup of its own) while make and
// the compiler build a module: nothing it started may live on.
func TestCLIKilledMidBuildLeavesNoCompiler(t *testing.T) {
	kmodvmBinary(t)
	mod := slowModule(t)
	out := t.TempDir()
	cmd, _, stderr := kmodvm(t, nil, "run", "--jobs", "1", "--out", out, "--kernels", "6.1", "--module", mod,
		"--tests", repo(t, "testdata/hostfaults/steady"), "--cache", cacheFlag()[1])
	sc := bufio.NewScanner(stderr)
	var building []string
	for sc.Scan() {
		if !strings.HasSuffix(strings.TrimSpace(sc.Text()), " build") {
			continue
		}
		// make first, then its compilers: kill while both run.
		for deadline := time.Now().Add(30 * time.Second); len(building) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			building = compilers(processes(out, false))
		}
		break
	}
	if len(building) < 2 {
		t.Fatalf("make and a compiler never ran at once for the run's build: %q", building)
	}
	t.Logf("building: %q", building)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed := time.Now()
	for {
		left := processes(out, false)
		if len(left) == 0 {
			t.Logf("nothing left %s after the SIGKILL", time.Since(killed).Round(time.Millisecond))
			return
		}
		if time.Since(killed) > time.Second {
			t.Fatalf("processes outlived a SIGKILLed kmodvm: %q", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slowModule writes a module whose one file takes gcc seconds to compile
// (ten thousand statements on a volatile), new to the build cache: a
// compiler that outlived kmodvm would still be at it a second later.
func slowModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "// " + rand.Text() + "\n#include <linux/module.h>\n" + `
#define S0 x = x * 3 + (x >> 7);
#define S1 S0 S0 S0 S0 S0 S0 S0 S0 S0 S0
#define S2 S1 S1 S1 S1 S1 S1 S1 S1 S1 S1
#define S3 S2 S2 S2 S2 S2 S2 S2 S2 S2 S2
#define S4 S3 S3 S3 S3 S3 S3 S3 S3 S3 S3
static volatile unsigned long x;
static int __init slowmod_init(void) { S4 return 0; }
module_init(slowmod_init);
MODULE_LICENSE("GPL");
`
	for name, data := range map[string]string{"Kbuild": "obj-m := slowmod.o\n", "slowmod.c": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// compilers returns the make and compiler processes of found (processes'
// "pid argv0" lines), or none unless both kinds are there.
func compilers(found []string) []string {
	var out []string
	var makes, ccs int
	for _, p := range found {
		_, argv0, _ := strings.Cut(p, " ")
		switch name := filepath.Base(argv0); {
		case name == "make":
			makes++
		case strings.HasPrefix(name, "gcc"), strings.HasPrefix(name, "cc1"), strings.Contains(name, "-gcc"):
			ccs++
		default:
			continue
		}
		out = append(out, p)
	}
	if makes == 0 || ccs == 0 {
		return nil
	}
	return out
}
