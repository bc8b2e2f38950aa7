package toolchain

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/kmodvm/kmodvm/internal/proc"
)

// Command returns name run with the toolchain: directly on the host, or
// in a private mount namespace where binds (the directories the command
// needs: the kernel's cache entry, the build directory) appear at their
// host paths inside the userland.
func (t *Toolchain) Command(ctx context.Context, binds []string, name string, args ...string) *exec.Cmd {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "HOME=/tmp", "KBUILD_BUILD_TIMESTAMP=kmodvm"}
	if t.Root == "" {
		cmd := proc.Command(ctx, name, args...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		return cmd
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, b := range binds {
		fmt.Fprintf(&script, "mkdir -p %[2]s%[1]s\nmount --bind %[1]s %[2]s%[1]s\n", shellQuote(b), shellQuote(t.Root))
	}
	fmt.Fprintf(&script, "mount -t proc proc %s/proc\n", shellQuote(t.Root))
	fmt.Fprintf(&script, "exec chroot %s", shellQuote(t.Root))
	for _, a := range append([]string{name}, args...) {
		script.WriteString(" " + shellQuote(a))
	}
	cmd := proc.Command(ctx, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script.String())
	cmd.Env = env
	return cmd
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
