package dmesg

import (
	"slices"
	"testing"
)

func TestParseTaint(t *testing.T) {
	tests := []struct {
		flags string
		want  Taint
	}{
		{"G           OE", "OE"},
		{"G        W  OE", "WOE"},
		{"G      D W  OEL", "DWOEL"},
		{"P           O", "PO"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ParseTaint(tt.flags); got != tt.want {
			t.Errorf("ParseTaint(%q) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}

func TestTaintFromMask(t *testing.T) {
	// 12288 = O|E, what loading an unsigned out-of-tree module sets.
	if got := TaintFromMask(12288); got != "OE" {
		t.Errorf("TaintFromMask(12288) = %q", got)
	}
	if got := TaintFromMask(1<<7 | 1<<9 | 1<<14); got != "DWL" {
		t.Errorf("TaintFromMask(D|W|L) = %q", got)
	}
}

func TestTaintAdded(t *testing.T) {
	if got := ParseTaint("G      D W  OE").Added("OE"); got != "DW" {
		t.Errorf("Added = %q, want DW", got)
	}
	want := []string{"D: kernel died recently (Oops or BUG)", "W: kernel warning"}
	if got := Taint("DW").Describe(); !slices.Equal(got, want) {
		t.Errorf("Describe = %q", got)
	}
}
