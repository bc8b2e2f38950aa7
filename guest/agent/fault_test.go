package agent

import "testing"

// The reports after which a test may never progress are told from the
// kernel's other messages by their first line, as real kernels print it.
func TestFaultHeaders(t *testing.T) {
	for _, c := range []struct {
		line  string
		fault bool
	}{
		{"BUG: kernel NULL pointer dereference, address: 0000000000000000", true},
		{"Oops: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"kernel BUG at drivers/faultmod.c:172!", true},
		{"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"BUG: KASAN: slab-out-of-bounds in mmapdrv_write+0x5a/0x120 [mmapdrv]", true},
		{"usercopy: Kernel memory overwrite attempt detected to SLUB object 'kmalloc-16' (offset 0, size 64)!", true},
		{"Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000", true},
		{"WARNING: CPU: 0 PID: 85 at faultmod.c:168 faultmod_ioctl+0x2a/0x200 [faultmod]", false},
		{"faultmod: loading out-of-tree module taints kernel.", false},
		{"INFO: task faultmod.test:91 blocked for more than 10 seconds.", false},
	} {
		var f faults
		f.note(c.line)
		if line, got := f.since(0); got != c.fault || (got && line != c.line) {
			t.Errorf("%q: fault %v (%q), want %v", c.line, got, line, c.fault)
		}
	}
	var f faults
	f.note("Oops: 0000 [#1] SMP")
	if _, ok := f.since(1); ok {
		t.Error("a fault counted before is new again")
	}
}
