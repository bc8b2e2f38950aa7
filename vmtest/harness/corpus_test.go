package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCorpusSent runs the glue's corpus copy (glue/corpus.c, with
// kmsg.c's base64) on the host and reads what it printed back with
// SplitCorpus: every input, once, and the other lines left as they were.
func TestCorpusSent(t *testing.T) {
	needClang(t)
	dir := t.TempDir()
	srcs := append([]string{"testdata/corpussend.c"}, glueSources(t, dir, "corpus.c", "kmsg.c")...)
	bin := filepath.Join(dir, "corpussend")
	if out, err := exec.Command(DefaultClang, append([]string{"-O1", "-o", bin}, srcs...)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	inputs := []string{"a", "ab", "abc", "\x01\xff\x7f the fourth", strings.Repeat("long ", 2000)}
	cmd := exec.Command(bin, inputs...)
	cmd.Env = append(os.Environ(), CorpusEnv+"="+filepath.Join(dir, "corpus"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rest, got, err := SplitCorpus(string(out))
	if err != nil {
		t.Fatal(err)
	}
	var gotS []string
	for _, in := range got {
		gotS = append(gotS, string(in))
	}
	slices.Sort(gotS)
	slices.Sort(inputs)
	if !slices.Equal(gotS, inputs) {
		t.Errorf("inputs %q, want %q", gotS, inputs)
	}
	if rest != "kmodvm-fuzz: sent the corpus: 5 inputs\n" {
		t.Errorf("the rest of the output: %q", rest)
	}
}

func TestSplitCorpus(t *testing.T) {
	for _, c := range []struct {
		name, out, rest string
		inputs          []string
		err             bool
	}{
		{name: "inputs among other lines", out: "#1 INITED\nkmodvm-fuzz: corpus YWJj\nDone\nkmodvm-fuzz: corpus \n",
			rest: "#1 INITED\nDone\n", inputs: []string{"abc", ""}},
		{name: "no corpus", out: "Done 9 runs\n", rest: "Done 9 runs\n"},
		{name: "bad line", out: "kmodvm-fuzz: corpus @@\n", rest: "kmodvm-fuzz: corpus @@\n", err: true},
	} {
		rest, inputs, err := SplitCorpus(c.out)
		var got []string
		for _, in := range inputs {
			got = append(got, string(in))
		}
		if rest != c.rest || !slices.Equal(got, c.inputs) || (err != nil) != c.err {
			t.Errorf("%s: %q, %q, %v; want %q, %q, error %v", c.name, rest, got, err, c.rest, c.inputs, c.err)
		}
	}
}
