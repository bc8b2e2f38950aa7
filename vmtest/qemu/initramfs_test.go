package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/u-root/u-root/pkg/cpio"
)

var (
	initramfsOnce sync.Once
	initramfsPath string
	initramfsErr  error
	testTmp       string
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		runHelper()
		return
	}
	var err error
	testTmp, err = os.MkdirTemp("", "kmodvm-qemu-test-")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(testTmp)
	os.Exit(code)
}

// testInitramfs builds testdata/init as a static binary and packs it as
// /init in a newc archive, once per test binary.
func testInitramfs(t *testing.T) string {
	t.Helper()
	initramfsOnce.Do(func() {
		initramfsPath, initramfsErr = buildInitramfs(testTmp, arch.Must(arch.Default).GOARCH)
	})
	if initramfsErr != nil {
		t.Fatalf("build initramfs: %v", initramfsErr)
	}
	return initramfsPath
}

// buildInitramfs builds the test init for goarch into dir and packs it.
func buildInitramfs(dir, goarch string) (string, error) {
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &exec.Error{Name: "go build: " + string(out), Err: err}
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "initramfs.cpio")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := cpio.Newc.Writer(f)
	records := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("proc", 0o755),
		cpio.StaticFile("init", string(content), 0o755),
	}
	if err := cpio.WriteRecordsAndDirs(w, records); err != nil {
		return "", err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return "", err
	}
	return path, f.Close()
}
