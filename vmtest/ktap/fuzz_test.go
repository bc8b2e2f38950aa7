package ktap

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the parser real KUnit output and its mutations: it must
// not panic, hang or lose the tree's shape invariants.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	ktap, _ := filepath.Glob("testdata/*.ktap")
	files = append(files, ktap...)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		var walk func([]*Test)
		walk = func(tests []*Test) {
			for _, tc := range tests {
				if tc.Name == "" {
					t.Fatalf("unnamed test in %q", in)
				}
				if tc.Plan >= 0 && len(tc.Subtests) < min(tc.Plan, MaxFill) && tc.Status != Crash {
					t.Fatalf("%s: %d of %d planned subtests, status %s", tc.Name, len(tc.Subtests), tc.Plan, tc.Status)
				}
				walk(tc.Subtests)
			}
		}
		walk(Parse(in))
	})
}
