package coverage

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Whatever gcov's JSON holds, ParseGcov returns files or an error, never
// panics, and what it returns survives a trip through an lcov tracefile.
func FuzzParseGcov(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.gcov.json"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"format_version": "2", "current_working_directory": "/m", "files": [{"file": "a.c", "lines": [{"line_number": 1, "count": 9223372036854775807}, {"line_number": 1, "count": 1}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := ParseGcov(data)
		if err != nil {
			return
		}
		for _, fl := range files {
			if s := fl.Summary(); s.LinesHit > s.Lines || s.BranchesHit > s.Branches || s.FunctionsHit > s.Functions {
				t.Fatalf("summary %+v counts more hit than there is", s)
			}
			fl.States()
		}
		roundTrip(t, files)
	})
}

// Whatever a tracefile holds, ParseLCOV returns files or an error, and
// what it read comes back unchanged from a tracefile of its own.
func FuzzParseLCOV(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.info"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("SF:/a.c\nFN:1,2,f,g\nFNDA:3,f,g\nBRDA:2,0,3,-\nDA:2,0,x\nend_of_record\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := ParseLCOV(bytes.NewReader(data))
		if err != nil {
			return
		}
		roundTrip(t, files)
	})
}

// roundTrip checks that files written as a tracefile read back to the
// same tracefile.
func roundTrip(t *testing.T, files []File) {
	t.Helper()
	var first, second bytes.Buffer
	if err := WriteLCOV(&first, "fuzz", files); err != nil {
		t.Fatal(err)
	}
	back, err := ParseLCOV(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatalf("reading what WriteLCOV wrote: %v\n%s", err, first.Bytes())
	}
	if err := WriteLCOV(&second, "fuzz", back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatalf("tracefile changed on its way back:\n%s\nthen:\n%s", first.Bytes(), second.Bytes())
	}
}
