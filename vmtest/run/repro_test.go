package run

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// The script must be valid sh and name the image, the kernel and the
// events file as a person replaying it needs them.
func TestReproScriptReplaysTheVMFromCachedLayers(t *testing.T) {
	dir := t.TempDir()
	cfg := qemu.Config{Accel: qemu.AccelTCG, Kernel: "/cache/k/vmlinux", Initrd: filepath.Join(dir, ".initramfs.cpio"), Append: []string{"a=b c"},
		Serial: []qemu.Port{{Name: "console"}, {Name: "events", Param: "kmodvm.events"}}}
	layers := []string{"/cache/initramfs/base-1.cpio", "/cache/it's.cpio", filepath.Join(dir, "initramfs-run.cpio")}
	if err := writeRepro(dir, cfg, layers, false); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, runcfg.ReproScript)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s\n%s", err, out, s)
	}
	for _, want := range []string{
		`cat /cache/initramfs/base-1.cpio '/cache/it'\''s.cpio' "$here"/initramfs-run.cpio >"$img"`,
		"-kernel /cache/k/vmlinux", `-initrd "$img"`,
		`"file,id=events,path=$here/repro-events.jsonl"`, "stdio,id=console", `"$@"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("repro.sh lacks %q:\n%s", want, s)
		}
	}
}

// With Config.Keep the script boots the image kept beside it.
func TestReproScriptBootsTheKeptImage(t *testing.T) {
	dir := t.TempDir()
	cfg := qemu.Config{Accel: qemu.AccelTCG, Kernel: "/cache/k/vmlinux", Initrd: filepath.Join(dir, "initramfs.cpio")}
	if err := writeRepro(dir, cfg, []string{"/cache/base.cpio"}, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, runcfg.ReproScript))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `img="$here/initramfs.cpio"`) || strings.Contains(s, "/cache/base.cpio") {
		t.Errorf("repro.sh does not boot the kept image:\n%s", s)
	}
}

// A kernel the cache keeps compressed is decompressed by the script into a
// temporary file that QEMU boots and the script removes.
func TestReproScriptUnpacksACompressedKernel(t *testing.T) {
	dir := t.TempDir()
	cfg := qemu.Config{Accel: qemu.AccelTCG, Kernel: "/cache/k/vmlinux.zst", Initrd: filepath.Join(dir, "initramfs.cpio")}
	if err := writeRepro(dir, cfg, []string{"/cache/base.cpio"}, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, runcfg.ReproScript))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`zstd -dqf /cache/k/vmlinux.zst -o "$kernel"`, `-kernel "$kernel"`, `rm -f "$img" ${kernel:+"$kernel"}`} {
		if !strings.Contains(s, want) {
			t.Errorf("repro.sh lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "-kernel /cache") {
		t.Errorf("repro.sh hands QEMU the compressed kernel:\n%s", s)
	}
}
