package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHintsFindTheMagicCommand runs the glue's comparison hints
// (glue/hints.c) in real libFuzzer on the host: a harness compares its
// input's first four bytes against a magic value and hands the
// comparison to the hints table, as kcov.c hands it the module's. With
// the hints libFuzzer writes the magic value in within 200,000 inputs on
// each seed; without them (KMODVM_TEST_NOHINTS) it does not.
func TestHintsFindTheMagicCommand(t *testing.T) {
	needClang(t)
	dir := t.TempDir()
	hints := glueSources(t, dir, "hints.c")[0]
	bin := filepath.Join(dir, "hintsfind")
	if out, err := exec.Command(DefaultClang, "-g", "-O1", "-fsanitize=fuzzer", "-fno-sanitize-coverage=trace-cmp", "-Wall", "-Werror",
		"testdata/hintsfind.c", hints, "-o", bin).CombinedOutput(); err != nil {
		t.Skipf("no libFuzzer for the host (make deps installs libclang-rt-16-dev): %v\n%s", err, out)
	}
	for seed := 1; seed <= 3; seed++ {
		for _, on := range []bool{true, false} {
			cmd := exec.Command(bin, "-runs=200000", "-seed="+strconv.Itoa(seed), "-artifact_prefix="+dir+"/")
			if !on {
				cmd.Env = append(os.Environ(), "KMODVM_TEST_NOHINTS=1")
			}
			out, err := cmd.CombinedOutput()
			found := strings.Contains(string(out), "kmodvm-test: the magic command")
			if found != on || (err != nil) != on {
				t.Errorf("seed %d, hints %v: found %v (exit %v), want %v\n%s", seed, on, found, err, on, tail(string(out)))
			}
		}
	}
}

// tail is the last lines of a libFuzzer output.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-8, 0):], "\n")
}
