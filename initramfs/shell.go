package initramfs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/mkuimage/uimage/initramfs"
	"github.com/u-root/uio/llog"
)

// ShellPath is the guest path of the interactive shell (u-root's gosh);
// ShellBin is the directory of its commands, to put on PATH.
const (
	ShellPath = "/bbin/gosh"
	ShellBin  = "/bbin"
)

// shellCommands are the u-root commands of the shell layer: a shell and
// what a module author reaches for in a VM (the kernel log, loading and
// unloading modules, looking at files and processes).
var shellCommands = []string{
	"gosh", "cat", "ls", "dmesg", "insmod", "rmmod", "lsmod", "echo", "ps",
	"grep", "mkdir", "rm", "cp", "mv", "ln", "sleep", "kill", "uname", "mount",
	"umount", "head", "tail", "hexdump", "free", "find", "wc", "stty",
	"more", "chmod", "touch", "pwd", "printenv", "true", "false", "poweroff",
	"strings", "uptime", "which", "tee", "sync",
}

// Shell returns the shell layer: u-root's gosh and core commands as one
// busybox binary under /bbin, built for the Builder's architecture. Only
// `kmodvm shell` adds it to an image. It is cached by the Go version, the
// GOARCH, the command list, go.mod and go.sum and mkuimage's version; a cold
// build takes a minute or so.
func (b *Builder) Shell(ctx context.Context) (string, error) {
	src, goVersion, goarch, err := b.goInputs()
	if err != nil {
		return "", err
	}
	k := newKey("shell", goVersion, "GOARCH="+goarch, goEnv(), "tags="+shellTags,
		depVersion("github.com/u-root/u-root"), depVersion("github.com/u-root/mkuimage"))
	for _, c := range shellCommands {
		k.add(c)
	}
	// go.mod and go.sum pin the commands' own dependencies.
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := k.addFile(f, filepath.Join(src, f)); err != nil {
			return "", fmt.Errorf("shell layer: %w", err)
		}
	}
	return b.cached(ctx, "shell-"+k.sum()+".cpio", func(ctx context.Context, f *os.File) error {
		return buildShell(ctx, src, goarch, f.Name())
	})
}

// shellTags builds gosh with liner's line editor, not the default
// bubbline: bubbletea v0.24.1 can deadlock when a line is entered (its
// renderer's stop holds the lock that a frame due at that moment waits
// for, while it waits for that frame's loop to take its signal). The
// shell then hangs with the line on the screen and no output; under TCG's
// slow arm64 it did so in about one session of ten. The fix, v0.24.2,
// needs a bubbles release that bubbline's last version does not build
// with. Liner has no renderer: history, completion and editing.
const shellTags = "goshliner"

// buildShell has mkuimage build the commands in busybox mode from the
// u-root version kmodvm's go.mod pins. mkuimage cannot be cancelled: ctx
// is only checked before it starts.
func buildShell(ctx context.Context, src, goarch, out string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kmodvm-shell-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var cmds []string
	for _, c := range shellCommands {
		cmds = append(cmds, path.Join("github.com/u-root/u-root/cmds/core", c))
	}
	var logBuf bytes.Buffer
	l := llog.New(slog.LevelWarn, func(format string, args ...any) {
		fmt.Fprintf(&logBuf, format+"\n", args...)
	})
	err = uimage.Create(l,
		uimage.WithTempDir(tmp),
		uimage.WithEnv(golang.WithGOOS("linux"), golang.WithGOARCH(goarch), golang.WithWorkingDir(src),
			golang.DisableCGO(), golang.WithBuildTag(shellTags)),
		uimage.WithBusyboxCommands(cmds...),
		uimage.WithSkipLDD(),
		uimage.WithOutput(&initramfs.CPIOFile{Path: out}),
	)
	if err != nil {
		return fmt.Errorf("mkuimage (shell): %w\n%s", err, logBuf.String())
	}
	return nil
}
