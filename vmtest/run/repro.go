package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// reproImage stands for the image in the replay command until the script's
// own variable replaces it.
const reproImage = "/kmodvm-repro-image"

// reproKernel stands for a compressed kernel in the replay command until
// the script's variable holding its decompressed copy replaces it.
const reproKernel = "/kmodvm-repro-kernel"

// writeRepro writes dir/repro.sh: the VM of cfg as one QEMU command, the
// console on the terminal and the agent's events in repro-events.jsonl
// beside the script. The image is the kept one (keep), or the cached
// layers concatenated again into a temporary file: they stay in the cache
// for a week after their last use.
func writeRepro(dir string, cfg qemu.Config, layers []string, keep bool) error {
	accel := cfg.Accel
	cfg.Initrd = reproImage
	kernel := cfg.Kernel
	if qemu.IsCompressedKernel(kernel) {
		cfg.Kernel = reproKernel
	}
	argv := cfg.ReplayCommand(accel, func(p qemu.Port) string { return reproImage + "-" + p.Name })
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# Boots the VM kmodvm ran here again: %s on %s.\n", filepath.Base(kernel), accel)
	b.WriteString("# The console is this terminal (^C ends QEMU); the guest agent's events\n")
	b.WriteString("# go to repro-events.jsonl beside this script. Pass QEMU options as\n")
	b.WriteString("# arguments, e.g. -s -S to wait for gdb on port 1234.\n")
	b.WriteString("set -e\nhere=$(cd \"$(dirname \"$0\")\" && pwd)\n")
	if cfg.Kernel == reproKernel {
		// The cache keeps the kernel compressed (qemu.IsCompressedKernel).
		b.WriteString("command -v zstd >/dev/null || { echo \"repro.sh: zstd unpacks the kernel: apt-get install zstd\" >&2; exit 1; }\n")
		b.WriteString("kernel=$(mktemp \"${TMPDIR:-/tmp}/kmodvm-repro-kernel.XXXXXX\")\ntrap 'rm -f \"$kernel\"' EXIT\n")
		fmt.Fprintf(&b, "zstd -dqf %s -o \"$kernel\"\n", shellQuote(kernel))
	}
	if keep {
		b.WriteString("img=\"$here/initramfs.cpio\"\n")
	} else {
		b.WriteString("img=$(mktemp \"${TMPDIR:-/tmp}/kmodvm-repro.XXXXXX\")\ntrap 'rm -f \"$img\" ${kernel:+\"$kernel\"}' EXIT\n")
		b.WriteString("cat")
		for _, l := range layers {
			if filepath.Dir(l) == dir {
				b.WriteString(" \"$here\"/" + shellQuote(filepath.Base(l)))
			} else {
				b.WriteString(" " + shellQuote(l))
			}
		}
		b.WriteString(" >\"$img\"\n")
	}
	for i, a := range argv {
		q := shellQuote(a)
		if a == reproKernel {
			q = `"$kernel"`
		}
		if strings.Contains(a, reproImage) {
			q = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(a)
			q = strings.NewReplacer(reproImage+"-events", "$here/repro-events.jsonl",
				reproImage+"-", "$here/repro-", reproImage, "$img").Replace(q)
			q = `"` + q + `"`
		}
		switch {
		case i > 0 && strings.HasPrefix(a, "-"):
			b.WriteString(" \\\n  ")
		case i > 0:
			b.WriteString(" ")
		}
		b.WriteString(q)
	}
	b.WriteString(" \\\n  \"$@\"\n")
	return os.WriteFile(filepath.Join(dir, runcfg.ReproScript), []byte(b.String()), 0o755)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
