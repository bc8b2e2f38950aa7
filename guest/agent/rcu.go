package agent

import (
	"os"
	"strings"
)

// rcuExpeditedKnob switches the kernel's RCU grace periods to expedited
// ones. A module's unload waits for a grace period (free_module's
// synchronize_rcu), and so does a load that fails after the module was
// listed. Under TCG with 2 guest CPUs a normal one took most of an
// unload (6.1-debug, mmapdrv: 104 ms an unload, 40 ms expedited), so a
// sweep's points wait for expedited ones. Only the waiting changes: the
// calls a load or unload makes, and so its points, are the same. The
// tests run with the kernel's own setting. A kernel without the knob
// (TINY_RCU) keeps its grace periods.
var rcuExpeditedKnob = "/sys/kernel/rcu_expedited"

// rcuExpedited returns the knob's value, "" without it.
func rcuExpedited() string {
	b, err := os.ReadFile(rcuExpeditedKnob)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// setRCUExpedited writes v to the knob, unless v is "".
func setRCUExpedited(v string) {
	if v != "" {
		_ = os.WriteFile(rcuExpeditedKnob, []byte(v), 0o644)
	}
}
