package dmesg

import (
	"regexp"
	"strings"
)

// KCSANAccess is one side of a data race KCSAN reports: whether an
// interrupt made it (else a task did), and its stack, innermost first.
type KCSANAccess struct {
	Interrupt bool
	Frames    []Frame
}

// kcsanAccessLine heads each access of a KCSAN report: "read to
// 0xffa000000016d000 of 64 bytes by task 58 on cpu 1:", "write (marked)
// to ... by interrupt on cpu 0:", "race at unknown origin, with read
// to ...:" (kernel/kcsan/report.c).
var kcsanAccessLine = regexp.MustCompile(`^(?:race at unknown origin, with )?(?:read|write|read-write)(?: \([a-z ]+\))* to 0x[0-9a-f]+ of \d+ bytes by (task \d+|interrupt) on cpu \d+:$`)

// KCSANAccesses returns the accesses a KCSAN report prints, each with its
// stack: two for a race between two accesses, one for a race of unknown
// origin; none for a report that is not KCSAN's.
func KCSANAccesses(report string) []KCSANAccess {
	var out []KCSANAccess
	in := false
	for _, raw := range strings.Split(report, "\n") {
		text := parseLine([]byte(raw)).text
		if m := kcsanAccessLine.FindStringSubmatch(text); m != nil {
			out = append(out, KCSANAccess{Interrupt: m[1] == "interrupt"})
			in = true
			continue
		}
		if !in {
			continue
		}
		fr, ok := parseFrame(strings.TrimSpace(text))
		if !ok {
			in = false
			continue
		}
		out[len(out)-1].Frames = append(out[len(out)-1].Frames, fr)
	}
	return out
}

// irqEntry names the frames where an interrupt's stack enters from the
// code it interrupted: the interrupt and softirq entry points, by the
// kernel's own names (x86's asm_ entry stubs, the generic
// *_interrupt handlers, irq_exit and the softirq loop).
var irqEntry = regexp.MustCompile(`^asm_|_interrupt$|^irq_exit|^handle_softirqs$|^__do_softirq$|^do_softirq`)

// Own returns the frames of the access's own context: for an interrupt,
// those above its entry (a driver's handler among them), not those of
// the code it interrupted, which its stack goes on to print; for a task,
// all of them.
func (a KCSANAccess) Own() []Frame {
	if !a.Interrupt {
		return a.Frames
	}
	for i, fr := range a.Frames {
		if fr.Module == "" && irqEntry.MatchString(fr.Func) {
			return a.Frames[:i]
		}
	}
	return a.Frames
}
