package main

import (
	"os"
	"testing"
)

func TestParseFuzzStats(t *testing.T) {
	full, err := os.ReadFile("testdata/fuzz/output.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, out string
		want      fuzzStats
	}{
		{"final stats", string(full), fuzzStats{Execs: 5012, ExecsPerSec: 200, Cov: 21, Features: 99, Corpus: 18, CorpusSize: "340b",
			ModulePCs: 33, ModuleEdges: 47, Cmps: 1204, Seen: true}},
		{"status line only", "#4096\tpulse  cov: 21 ft: 98 corp: 17/311b lim: 43 exec/s: 204 rss: 30Mb\n",
			fuzzStats{Execs: 4096, ExecsPerSec: 204, Cov: 21, Features: 98, Corpus: 17, CorpusSize: "311b", Seen: true}},
		{"two VMs", "stat::number_of_executed_units: 3000\n=== kmodvm: fuzzing goes on in a fresh VM (VM 2)\n#512\tpulse  cov: 21 ft: 98 corp: 17/311b lim: 43 exec/s: 256 rss: 30Mb\n",
			fuzzStats{Execs: 3512, ExecsPerSec: 256, Cov: 21, Features: 98, Corpus: 17, CorpusSize: "311b", Seen: true}},
		{"two jobs", "#4096\tpulse  cov: 21 ft: 98 corp: 17/311b lim: 43 exec/s: 204 rss: 30Mb\n" +
			"=== kmodvm: fuzz job 2, beside the first, in a VM of its own (VM 1)\n#2048\tpulse  cov: 22 ft: 90 corp: 20/400b lim: 43 exec/s: 190 rss: 30Mb\n",
			fuzzStats{Execs: 6144, ExecsPerSec: 394, Cov: 22, Features: 98, Corpus: 20, CorpusSize: "400b", Seen: true, Jobs: 2}},
		{"no libFuzzer", "kmodvm-kcov: KMODVM_FUZZ_MODULE is not set: name the module under test\n", fuzzStats{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := parseFuzzStats(c.out); got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
