package runcfg

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Fuzz is a fuzz job: a harness that vmtest/harness built for the
// kernels' architecture, run in the guest as a binary of its own.
type Fuzz struct {
	// Binary is the harness on the host, built for Arch (a kernel of
	// another architecture is its own error).
	Binary, Arch string
	// Args are libFuzzer's flags (-max_total_time=600, a corpus
	// directory).
	Args []string
	// NoCmp turns off the comparison operands the KCOV glue feeds
	// libFuzzer (its KMODVM_FUZZ_CMP=0): for measuring what they bring.
	NoCmp bool
	// Replay, if set, is an input on the host (a crash-<sha1> a job kept)
	// that the harness runs once, at FuzzReplayDir in the guest, instead
	// of fuzzing.
	Replay string
	// Corpus, if set, is a directory on the host: its files are the
	// job's seeds (at FuzzCorpusDir in the guest, libFuzzer's corpus
	// directory), and the corpus the job ends with is written back into
	// it, each input named by its sha1. Not with Replay.
	Corpus string
	// Duration, if set, is the time the job fuzzes (libFuzzer's
	// -max_total_time, not in Args then): a job a kernel finding ended
	// with time left goes on in a fresh VM from the corpus, until it is
	// spent. Zero runs one VM, Args bounding it. Not with Replay.
	Duration time.Duration
	// Jobs, if above 1, is how many jobs fuzz at once on each kernel:
	// the first in the kernel's first VM after its tests, the others
	// each in VMs of their own started beside it, all from Corpus and
	// writing into it, a finding's title kept once among them. Not with
	// Replay, nor with Config.Coverage (one job runs).
	Jobs int
	// Minimize, if set, is the time libFuzzer's crash minimizer has, in a
	// fresh VM, to shrink the input a job kept.
	Minimize time.Duration
}

// FuzzName is the name the harness runs under: its test package in the
// report. FuzzPath is where it lies in the guest, FuzzReplayDir where the
// input Replay names does, under its own name, and FuzzCorpusDir the
// corpus.
const (
	FuzzName      = "fuzz"
	FuzzPath      = "/fuzz/harness"
	FuzzReplayDir = "/fuzz/replay"
	FuzzCorpusDir = "/fuzz/corpus"
)

// fuzzStepPrefix begins the detail of a tests step (Step.Detail) that is a
// fuzz job's line as it runs (FuzzStep).
const fuzzStepPrefix = "fuzz job "

// FuzzStep is the detail of a tests step that passes on a line of fuzz
// job job's output while it runs (libFuzzer's status lines, the glue's
// kernel report lines): what a live view per job shows.
func FuzzStep(job int, line string) string {
	return fmt.Sprintf("%s%d: %s", fuzzStepPrefix, job, line)
}

// ParseFuzzStep reads a detail FuzzStep made: the job and its line.
func ParseFuzzStep(detail string) (job int, line string, ok bool) {
	rest, ok := strings.CutPrefix(detail, fuzzStepPrefix)
	if !ok {
		return 0, "", false
	}
	num, line, ok := strings.Cut(rest, ": ")
	job, err := strconv.Atoi(num)
	if !ok || err != nil || job < 1 {
		return 0, "", false
	}
	return job, line, true
}
