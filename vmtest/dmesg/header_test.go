package dmesg

import (
	"strings"
	"testing"
)

// A report's first line names its kind as soon as it is printed, in each
// form a log line comes in; the lines inside a report start none.
func TestHeader(t *testing.T) {
	for _, c := range []struct {
		line string
		kind Kind
	}{
		{"[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000000", KindOops},
		{"<1>[   12.345678] BUG: Bad page map in process mmapdrv.test  pte:8000000004a3b025 pmd:05d8a067", KindBUG},
		{"4,350,1651149,-;general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI", KindGPF},
		{"watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [faultmod.test:91]", KindSoftLockup},
		{"rcu: INFO: rcu_preempt self-detected stall on CPU", KindRCUStall},
		{"Kernel panic - not syncing: Fatal exception", KindPanic},
		{"[    6.705017] get_swap_device: Bad swap file entry 340392ce694072f9", KindBUG},
		{"BUG: KASAN: use-after-free in sanmod_ioctl+0x5d/0x80 [sanmod]", KindKASAN},
		{"WARNING: CPU: 0 PID: 85 at faultmod.c:168 faultmod_ioctl+0x2a/0x200 [faultmod]", KindWarning},
		{"[   12.400000] Call Trace:", ""},
		{"[   12.400000]  faultmod_ioctl+0x2a/0x200 [faultmod]", ""},
		{"mmapdrv: loaded", ""},
	} {
		kind, text, ok := Header([]byte(c.line))
		if kind != c.kind || ok != (c.kind != "") {
			t.Errorf("%q: %q %v, want %q", c.line, kind, ok, c.kind)
		}
		if ok && (strings.HasPrefix(text, "[") || strings.HasPrefix(text, "<") || strings.HasPrefix(text, "4,") || !strings.Contains(c.line, text)) {
			t.Errorf("%q: text %q, want the line without its prefix", c.line, text)
		}
	}
}
