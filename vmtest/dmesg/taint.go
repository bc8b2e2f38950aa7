package dmesg

import "strings"

// taintTable lists the kernel's taint flags in bit order (bit 0 is P), with
// what each means, after Documentation/admin-guide/tainted-kernels.rst.
var taintTable = []struct {
	letter byte
	what   string
}{
	{'P', "proprietary module loaded"},
	{'F', "module force-loaded"},
	{'S', "out-of-spec system"},
	{'R', "module force-unloaded"},
	{'M', "machine check"},
	{'B', "bad page"},
	{'U', "taint requested by user space"},
	{'D', "kernel died recently (Oops or BUG)"},
	{'A', "ACPI table overridden"},
	{'W', "kernel warning"},
	{'C', "staging driver loaded"},
	{'I', "firmware workaround"},
	{'O', "out-of-tree module loaded"},
	{'E', "unsigned module loaded"},
	{'L', "soft lockup"},
	{'K', "kernel live-patched"},
	{'X', "auxiliary (distribution) taint"},
	{'T', "built with struct randomization"},
	{'N', "in-kernel test module loaded"},
}

// Taint is a set of taint flags as letters in bit order, e.g. "DWOE"; the
// empty Taint is an untainted kernel.
type Taint string

// ParseTaint reads the flags of a "Tainted:" line ("G        W  OE"), where
// G only says that no proprietary module is loaded.
func ParseTaint(flags string) Taint {
	var set [256]bool
	for i := 0; i < len(flags); i++ {
		set[flags[i]] = true
	}
	var b strings.Builder
	for _, t := range taintTable {
		if set[t.letter] {
			b.WriteByte(t.letter)
		}
	}
	return Taint(b.String())
}

// TaintFromMask reads /proc/sys/kernel/tainted.
func TaintFromMask(mask uint64) Taint {
	var b strings.Builder
	for bit, t := range taintTable {
		if mask&(1<<bit) != 0 {
			b.WriteByte(t.letter)
		}
	}
	return Taint(b.String())
}

// Added returns the flags of t that before lacks: what changed in between.
func (t Taint) Added(before Taint) Taint {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if !strings.ContainsRune(string(before), rune(t[i])) {
			b.WriteByte(t[i])
		}
	}
	return Taint(b.String())
}

// Describe names each flag of t.
func (t Taint) Describe() []string {
	var out []string
	for _, e := range taintTable {
		if strings.IndexByte(string(t), e.letter) >= 0 {
			out = append(out, string(e.letter)+": "+e.what)
		}
	}
	return out
}

// taintFlags returns the flags of a "Tainted: G W OE" or "Not tainted" line.
func taintFlags(text string) (string, bool) {
	if !strings.Contains(text, "ainted") {
		return "", false
	}
	m := taintedRE.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return strings.Join(strings.Fields(m[1]), " "), true
}
