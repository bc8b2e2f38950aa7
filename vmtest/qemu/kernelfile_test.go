package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// A kernel kept zstd-compressed (as the cache keeps Debian's vmlinux)
// boots like the plain one: Start decompresses it into the VM's work
// directory and removes it with the directory. A damaged one is an error
// of Start that says what to do.
func TestRunCompressedKernel(t *testing.T) {
	k := testKernel(t)
	testInitramfs(t) // built before TMPDIR changes
	zst := k
	if !IsCompressedKernel(k) {
		raw, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := zstd.NewWriter(nil)
		zst = filepath.Join(t.TempDir(), "vmlinux.zst")
		if err := os.WriteFile(zst, enc.EncodeAll(raw, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("KMODVM_TEST_KERNEL", zst)
	res, console := boot(t, "poweroff", Config{})
	if res.Exit != ExitPoweroff {
		t.Errorf("exit %s, want poweroff; console:\n%s\nstderr: %s", res.Exit, console, res.Stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Run left %v in TMPDIR", left)
	}

	b, err := os.ReadFile(zst)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "vmlinux.zst")
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	_, err = Run(context.Background(), Config{Kernel: bad, Initrd: testInitramfs(t), Timeout: vmTimeout})
	if err == nil || !strings.Contains(err.Error(), "fetch the kernel again") {
		t.Errorf("a damaged compressed kernel: %v, want an error saying to fetch it again", err)
	}
}
