package coverage

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testdata/small.gcov.json is gcov-12's `--branch-probabilities
// --json-format --stdout` of testdata/small.c, built with -fprofile-arcs
// -ftest-coverage in /tmp/cov/g/obj and run once without arguments.
func small(t *testing.T) File {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "small.gcov.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := ParseGcov(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	return files[0]
}

func line(f File, n int) Line {
	for _, l := range f.Lines {
		if l.Number == n {
			return l
		}
	}
	return Line{Number: -1}
}

func TestParseGcovReadsLinesBranchesAndFunctions(t *testing.T) {
	f := small(t)
	if f.Path != "/tmp/cov/g/t.c" {
		t.Errorf("path %q", f.Path)
	}
	for _, c := range []struct {
		n        int
		count    int64
		branches []int64
		fn       string
	}{
		{4, 5, []int64{1, 4}, "f"}, // if (x > 3): 1 of the 5 calls returned early
		{6, 4, nil, "f"},           // return 0
		{8, 0, nil, "unused"},      // never called
		{15, 6, []int64{5, 1}, "main"},
		{17, 1, []int64{0, 1}, "main"}, // if (argc > 5): never true
		{18, 0, nil, "main"},
	} {
		l := line(f, c.n)
		if l.Count != c.count || !reflect.DeepEqual(l.Branches, c.branches) || l.Function != c.fn {
			t.Errorf("line %d: %+v, want count %d branches %v in %s", c.n, l, c.count, c.branches, c.fn)
		}
	}
	want := []Function{{"f", 2, 7, 5}, {"unused", 8, 11, 0}, {"main", 12, 21, 1}}
	if !reflect.DeepEqual(f.Functions, want) {
		t.Errorf("functions %+v, want %+v", f.Functions, want)
	}
	if s := f.Summary(); s != (Summary{Lines: 14, LinesHit: 11, Branches: 6, BranchesHit: 5, Functions: 3, FunctionsHit: 2}) {
		t.Errorf("summary %+v", s)
	}
}

// A line whose function ran but which did not is missed (an error path
// not taken); one in a function that never ran is unreached.
func TestStatesTellMissedFromUnreached(t *testing.T) {
	f := small(t)
	st := f.States()
	for n, want := range map[int]State{2: Hit, 4: Hit, 17: Partial, 18: Missed, 8: Unreached, 10: Unreached} {
		if st[n] != want {
			t.Errorf("line %d: %s, want %s", n, st[n], want)
		}
	}
	// Without gcov's function names (an lcov tracefile) the functions'
	// lines say the same.
	var b bytes.Buffer
	if err := WriteLCOV(&b, "t", []File{f}); err != nil {
		t.Fatal(err)
	}
	back, err := ParseLCOV(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back[0].States(); got[18] != Missed || got[8] != Unreached || got[17] != Partial {
		t.Errorf("states from lcov: 18 %s, 8 %s, 17 %s", got[18], got[8], got[17])
	}
}

func TestMergeSumsCountsOfSeveralRuns(t *testing.T) {
	f := small(t)
	other := File{Path: "/src/other.c", Lines: []Line{{Number: 3, Count: 1}}}
	m := Merge([]File{f}, []File{other, f})
	if len(m) != 2 || m[0].Path != "/src/other.c" {
		t.Fatalf("merged %d files: %q first", len(m), m[0].Path)
	}
	got := m[1]
	if l := line(got, 17); l.Count != 2 || !reflect.DeepEqual(l.Branches, []int64{0, 2}) {
		t.Errorf("line 17 merged: %+v", l)
	}
	if got.Functions[0].Count != 10 || got.Summary() != f.Summary() {
		t.Errorf("merged f: %+v, summary %+v", got.Functions[0], got.Summary())
	}
	if l := line(f, 17); l.Count != 1 {
		t.Errorf("merging changed its input: %+v", l)
	}
}

// The tracefile is the one in testdata, which lcov itself reads (see
// TestLcovSummarizesTheTracefile).
func TestWriteLCOVMatchesTheGoldenTracefile(t *testing.T) {
	var b bytes.Buffer
	if err := WriteLCOV(&b, "6.1.192-debug", []File{small(t)}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "small.info")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("tracefile:\n%s\nwant:\n%s", b.String(), want)
	}
	back, err := ParseLCOV(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || back[0].Summary() != small(t).Summary() {
		t.Errorf("read back: %+v", back)
	}
}

func TestParseLCOVReadsOtherToolsRecordsAndSumsTests(t *testing.T) {
	in := `TN:a
SF:/src/x.c
FN:3,5,g
FNDA:2,g
VER:abc
DA:4,2,deadbeef
BRDA:4,0,0,2
BRDA:4,0,1,-
end_of_record
TN:b
SF:/src/x.c
FN:3,g
FNDA:1,g
DA:4,1
DA:5,0
end_of_record
`
	files, err := ParseLCOV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{Path: "/src/x.c", Lines: []Line{{Number: 4, Count: 3, Branches: []int64{2, 0}}, {Number: 5}}, Functions: []Function{{"g", 3, 5, 3}}}}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("got %+v\nwant %+v", files, want)
	}
	for _, bad := range []string{"DA:1,1\n", "SF:/a\nDA:x,1\nend_of_record\n", "SF:/a\nDA:1,1\n", "SF:/a\nFNDA:1,nofn\nend_of_record\n"} {
		if _, err := ParseLCOV(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseGcovRejectsWhatIsNotGcovOutput(t *testing.T) {
	for _, bad := range []string{`{"files": []}`, `{"format_version": "1", "files": [{"file": "", "lines": []}]}`, `[1, 2]`, `{"format_version": "1", "files": [{"file": "a.c", "lines": [{"line_number": 0}]}]}`} {
		if _, err := ParseGcov([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	// Relative names are the compile directory's (Linux 6.13+ builds
	// external modules from their own directory).
	files, err := ParseGcov([]byte(`{"format_version": "2", "current_working_directory": "/out/src", "files": [{"file": "sub/../m.c", "lines": [{"line_number": 1, "count": 1}]}]}`))
	if err != nil || len(files) != 1 || files[0].Path != "/out/src/m.c" {
		t.Errorf("relative name: %+v, %v", files, err)
	}
}

// lcov's own reader (Debian's lcov package; skipped without it) agrees
// with Summary about the tracefile WriteLCOV wrote.
func TestLcovSummarizesTheTracefile(t *testing.T) {
	if _, err := exec.LookPath("lcov"); err != nil {
		t.Skip("no lcov installed")
	}
	out, err := exec.Command("lcov", "--rc", "lcov_branch_coverage=1", "--summary", filepath.Join("testdata", "small.info")).CombinedOutput()
	if err != nil {
		t.Fatalf("lcov: %v\n%s", err, out)
	}
	for _, want := range []string{"78.6% (11 of 14 lines)", "66.7% (2 of 3 functions)", "83.3% (5 of 6 branches)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lcov --summary lacks %q:\n%s", want, out)
		}
	}
}

// testdata/mmapdrv.gcov.json is gcov-12's output for the bundled driver's
// .gcda as a 6.1.192-debug guest sent it after the whole suite (kmodvm
// run --kernels 6.1-debug --coverage), read against the build's .gcno;
// testdata/mmapdrv.info is the kernel's coverage.info of that run.
func TestParseGcovOfTheBundledDriver(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "mmapdrv.gcov.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := ParseGcov(b)
	if err != nil {
		t.Fatal(err)
	}
	build := "/tmp/cov/run1/6.1.192-debug/build/0/src/"
	byPath := map[string]File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	// The kernel's headers are named relative to the kernel tree, where
	// kbuild compiled the module from.
	if _, ok := byPath["/root/.cache/kmodvm/kernels/540a032fd21d9035/src/include/linux/mm.h"]; !ok || len(files) != 13 {
		t.Errorf("%d files, the kernel's mm.h not among them under its tree", len(files))
	}
	drv := byPath[build+"mmapdrv.c"]
	if s := drv.Summary(); s != (Summary{Lines: 103, LinesHit: 103, Branches: 36, BranchesHit: 32, Functions: 9, FunctionsHit: 9}) {
		t.Errorf("mmapdrv.c: %+v", s)
	}
	// The lcov tracefile of the run says the same of the driver.
	f, err := os.Open(filepath.Join("testdata", "mmapdrv.info"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := ParseLCOV(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range info {
		if strings.HasSuffix(fi.Path, "/kmod/mmapdrv.c") {
			if fi.Summary() != drv.Summary() {
				t.Errorf("tracefile %+v, gcov %+v", fi.Summary(), drv.Summary())
			}
			return
		}
	}
	t.Errorf("the tracefile has no mmapdrv.c")
}

// gcc 14's gcov writes format_version 2 with more fields: the same program
// run the same way gives the same counts. (testdata/small-gcc14.gcov.json:
// small.c built and run with gcc-14 and read with gcov-14, chrooted in
// kmodvm's trixie userland through toolchain.Toolchain.Command.)
func TestParseGcovReadsGcc14sFormat(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "small-gcc14.gcov.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"format_version": "2"`)) {
		t.Fatal("fixture is not gcov 14's format 2")
	}
	files, err := ParseGcov(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Summary() != small(t).Summary() {
		t.Errorf("gcc 14: %+v, gcc 12: %+v", files, small(t).Summary())
	}
	if l := line(files[0], 17); l.Count != 1 || !reflect.DeepEqual(l.Branches, []int64{0, 1}) {
		t.Errorf("line 17: %+v", l)
	}
}
