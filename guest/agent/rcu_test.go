package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// The sweep reads the kernel's setting, writes its own, and writes the
// kernel's back; a kernel without the knob is left alone.
func TestRCUExpeditedIsRestored(t *testing.T) {
	knob := filepath.Join(t.TempDir(), "rcu_expedited")
	old := rcuExpeditedKnob
	rcuExpeditedKnob = knob
	t.Cleanup(func() { rcuExpeditedKnob = old })

	if got := rcuExpedited(); got != "" {
		t.Fatalf("without the knob: %q, want \"\"", got)
	}
	setRCUExpedited("") // nothing to restore: no file made
	if _, err := os.Stat(knob); !os.IsNotExist(err) {
		t.Fatalf("setRCUExpedited(\"\") made the knob: %v", err)
	}
	if err := os.WriteFile(knob, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	normal := rcuExpedited()
	setRCUExpedited("1")
	if got := rcuExpedited(); got != "1" {
		t.Fatalf("during the sweep: %q, want 1", got)
	}
	setRCUExpedited(normal)
	if got := rcuExpedited(); got != "0" {
		t.Fatalf("after the sweep: %q, want 0", got)
	}
}
