// Package machine describes the host a benchmark ran on, for the results
// files of make bench and make soak.
package machine

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// Describe returns a Markdown list: CPU, memory, host kernel, QEMU, Go and
// the accelerator kmodvm would use.
func Describe() string {
	var b strings.Builder
	model := "unknown"
	if ci, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(ci), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ":")
				break
			}
		}
	}
	fmt.Fprintf(&b, "- CPU: %s, %d cores visible\n", strings.TrimSpace(model), runtime.NumCPU())
	if mi, err := os.ReadFile("/proc/meminfo"); err == nil {
		fmt.Fprintf(&b, "- %s\n", strings.Join(strings.Fields(strings.Split(string(mi), "\n")[0]), " "))
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		fmt.Fprintf(&b, "- host kernel: %s", out)
	}
	if out, err := exec.Command("qemu-system-x86_64", "--version").Output(); err == nil {
		fmt.Fprintf(&b, "- %s\n", strings.Split(string(out), "\n")[0])
	}
	fmt.Fprintf(&b, "- Go %s; accelerator: %s\n", runtime.Version(), qemu.AccelAuto.Resolve(nil))
	return b.String()
}
