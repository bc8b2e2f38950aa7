package qemu

import (
	"bufio"
	"context"
	"fmt"
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

// compressedTestKernel returns the test kernel zstd-compressed.
func compressedTestKernel(t *testing.T) string {
	t.Helper()
	k := testKernel(t)
	if IsCompressedKernel(k) {
		return k
	}
	raw, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil)
	zst := filepath.Join(t.TempDir(), "vmlinux.zst")
	if err := os.WriteFile(zst, enc.EncodeAll(raw, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return zst
}

// A guest booted from a compressed PVH vmlinux, saved, is restored with a
// stub in the kernel's place (no decompression) and runs on: it answers on
// its control port and powers off.
func TestRestoreOfACompressedPVHKernelNeedsNoKernel(t *testing.T) {
	zst := compressedTestKernel(t)
	if !isELF(zst) {
		t.Skipf("%s is no vmlinux", zst)
	}
	state := filepath.Join(t.TempDir(), "echo.state")
	t.Cleanup(func() { removeRAMCopies(state) })
	cfg := Config{Kernel: zst, Initrd: testInitramfs(t), Append: []string{"kmodvmtest=echo"}, Timeout: vmTimeout, Saveable: true}
	talk := func(vm *VM, console *syncBuffer, say, want string) {
		t.Helper()
		ctl := vm.Port("control")
		if say != "" {
			fmt.Fprintln(ctl, say)
		}
		line, err := bufio.NewReader(ctl).ReadString('\n')
		if strings.TrimSpace(line) != want {
			t.Fatalf("guest said %q (%v), want %q; console:\n%s", line, err, want, console.String())
		}
	}
	ports := func(console *syncBuffer) []Port {
		return []Port{{Name: "console", Output: console}, {Name: "events"}, {Name: "control", Duplex: true, Param: "kmodvmtest.control"}}
	}
	var c1 syncBuffer
	cfg.Serial = ports(&c1)
	vm, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	talk(vm, &c1, "", "ready")
	if err := vm.Save(state); err != nil {
		t.Fatal(err)
	}
	vm.Kill()
	vm.Wait()

	var c2 syncBuffer
	cfg.Serial, cfg.Restore = ports(&c2), state
	vm, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := vm.cfg.kernelFile(); filepath.Base(got) != "pvh-stub.elf" {
		t.Errorf("the restore read %s, want the stub", got)
	}
	talk(vm, &c2, "after restore", "echo: after restore")
	talk(vm, &c2, "bye", "echo: bye")
	res, err := vm.Wait()
	if err != nil || res.Exit != ExitPoweroff {
		t.Errorf("restored VM: exit %s, %v; console:\n%s", res.Exit, err, c2.String())
	}
}
