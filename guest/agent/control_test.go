package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

func TestSelectTests(t *testing.T) {
	all := []event.TestBinary{
		{Name: "a", Path: "/a", Args: []string{"-test.v"}},
		{Name: "b", Path: "/b"},
	}
	tests := []struct {
		name  string
		names []string
		args  []string
		want  []event.TestBinary
		fails bool
	}{
		{"all by default", nil, nil, all, false},
		{"in the order asked, args after the binary's", []string{"b", "a"}, []string{"-test.run=X"}, []event.TestBinary{
			{Name: "b", Path: "/b", Args: []string{"-test.run=X"}},
			{Name: "a", Path: "/a", Args: []string{"-test.v", "-test.run=X"}},
		}, false},
		{"unknown name", []string{"c"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectTests(all, tt.names, tt.args)
			if (err != nil) != tt.fails || !tt.fails && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("selectTests = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if len(all[0].Args) != 1 {
		t.Errorf("selectTests changed the configuration's args: %q", all[0].Args)
	}
}

func TestReadLimited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		max       int
		want      string
		truncated bool
	}{{0, "0123456789", false}, {10, "0123456789", false}, {4, "0123", true}} {
		b, trunc, err := readLimited(p, tt.max)
		if err != nil || string(b) != tt.want || trunc != tt.truncated {
			t.Errorf("readLimited(max %d) = %q, %v, %v", tt.max, b, trunc, err)
		}
	}
	// Files of /proc report size 0: the read must not trust it.
	if b, _, err := readLimited("/proc/self/status", 0); err != nil || len(b) == 0 {
		t.Errorf("readLimited(/proc/self/status) = %d bytes, %v", len(b), err)
	}
	if _, _, err := readLimited(filepath.Join(t.TempDir(), "missing"), 0); err == nil {
		t.Error("a missing file was read")
	}
}
