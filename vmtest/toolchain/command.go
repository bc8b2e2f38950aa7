package toolchain

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/kmodvm/kmodvm/internal/proc"
)

// Bind is a directory a command needs: in a userland it appears at its
// host path. A ReadOnly one is mounted read-only for the command wherever
// it runs, as root (a private mount namespace on the host too): a module's
// Makefile is the module author's code, run as root, and must not change
// the kernel's cache entry it builds against.
type Bind struct {
	Path     string
	ReadOnly bool
}

// Command returns name run with the toolchain: directly on the host, or
// in a private mount namespace where binds appear at their host paths
// inside the userland. A shell leads the command's process group: when
// kmodvm dies, however it dies, the kernel sends that shell SIGTERM (its
// parent-death signal), and the shell kills the whole group, make and the
// compilers it started included. The command's standard input is
// /dev/null.
func (t *Toolchain) Command(ctx context.Context, binds []Bind, name string, args ...string) *exec.Cmd {
	var script strings.Builder
	mounts := t.Root != "" || (os.Geteuid() == 0 && hasReadOnly(binds))
	if mounts {
		script.WriteString("set -e\n")
		for _, b := range binds {
			dst := shellQuote(t.Root + b.Path)
			if t.Root != "" {
				fmt.Fprintf(&script, "mkdir -p %s\n", dst)
			}
			fmt.Fprintf(&script, "mount --bind %s %s\n", shellQuote(b.Path), dst)
			if b.ReadOnly {
				fmt.Fprintf(&script, "mount -o remount,bind,ro %s\n", dst)
			}
		}
		if t.Root != "" {
			fmt.Fprintf(&script, "mount -t proc proc %s/proc\n", shellQuote(t.Root))
		}
		script.WriteString("set +e\n")
	}
	argv := append([]string{name}, args...)
	if t.Root != "" {
		argv = append([]string{"chroot", t.Root}, argv...)
	}
	// The trap is set before the command starts: a parent that died
	// earlier killed the shell, and nothing of the command had run.
	script.WriteString("trap 'kill -KILL 0' TERM\n")
	for _, a := range argv {
		script.WriteString(shellQuote(a) + " ")
	}
	script.WriteString("&\nwait $!\n")
	var cmd *exec.Cmd
	if mounts {
		cmd = proc.Command(ctx, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script.String())
	} else {
		cmd = proc.Command(ctx, "sh", "-c", script.String())
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if t.Root != "" {
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "HOME=/tmp", "KBUILD_BUILD_TIMESTAMP=kmodvm"}
	}
	return cmd
}

func hasReadOnly(binds []Bind) bool {
	for _, b := range binds {
		if b.ReadOnly {
			return true
		}
	}
	return false
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
