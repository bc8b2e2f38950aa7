package run

import "testing"

func TestKUnitSuitesTellsATestModuleFromADriverWithSuites(t *testing.T) {
	for _, tc := range []struct {
		dir       string
		only, any bool
	}{
		{"../testdata/kunitfail", true, true},
		{"../../kmod", false, true},
		{"../../kmod/kunit", true, true},
		{"../../testdata/sanmod", false, false},
	} {
		only, any := kunitSuites(tc.dir)
		if only != tc.only || any != tc.any {
			t.Errorf("kunitSuites(%s) = %v, %v; want %v, %v", tc.dir, only, any, tc.only, tc.any)
		}
	}
}
