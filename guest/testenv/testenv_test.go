package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

func TestInVMFollowsEnv(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{{"1", true}, {"", false}, {"0", false}, {"yes", false}} {
		t.Setenv(event.EnvGuest, tc.val)
		if got := InVM(); got != tc.want {
			t.Errorf("%s=%q: InVM() = %v, want %v", event.EnvGuest, tc.val, got, tc.want)
		}
	}
}

func TestModulePathFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	cfg := `{"v":1,"modules":[{"name":"videodev","path":"/lib/modules/videodev.ko","dep":true},` +
		`{"name":"mmapdrv","path":"/kmodvm/modules/mmapdrv.ko","params":"bufsize=8192"}],"tests":[]}`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(event.EnvConfig, path)

	got, err := ModulePath("mmapdrv")
	if err != nil || got != "/kmodvm/modules/mmapdrv.ko" {
		t.Errorf("ModulePath(mmapdrv) = %q, %v; want /kmodvm/modules/mmapdrv.ko", got, err)
	}
	m, err := Module("mmapdrv")
	if err != nil || m.Params != "bufsize=8192" {
		t.Errorf("Module(mmapdrv).Params = %q, %v; want bufsize=8192", m.Params, err)
	}
	if _, err := ModulePath("absent"); err == nil {
		t.Error("ModulePath(absent) succeeded, want an error")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"missing": filepath.Join(dir, "none.json"), "garbage": bad} {
		t.Setenv(event.EnvConfig, path)
		if _, err := Config(); err == nil {
			t.Errorf("%s: Config() succeeded, want an error", name)
		}
	}
}
