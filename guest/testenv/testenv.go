// Package testenv holds the small helpers that Go tests running inside a
// kmodvm guest need: knowing they are in the guest, finding the run
// configuration and the modules it names, loading or unloading modules,
// and sweeping an operation's error paths with the kernel's fault
// injection (FailEach). It is imported by test code only; its one state
// is how many tests need the fault-injection settings.
package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

// InVM reports whether the process runs under the kmodvm guest agent.
func InVM() bool {
	return os.Getenv(event.EnvGuest) == "1"
}

// SkipIfNotVM skips t unless it runs inside a kmodvm guest.
func SkipIfNotVM(t testing.TB) {
	t.Helper()
	if !InVM() {
		t.Skipf("needs a kmodvm guest (%s=1): this test drives a real kernel module; run it with kmodvm", event.EnvGuest)
	}
}

// Config reads the run configuration the agent names in $KMODVM_CONFIG,
// falling back to event.ConfigPath.
func Config() (*event.RunConfig, error) {
	path := os.Getenv(event.EnvConfig)
	if path == "" {
		path = event.ConfigPath
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read run config: %w", err)
	}
	var cfg event.RunConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse run config %s: %w", path, err)
	}
	return &cfg, nil
}

// Module returns the configuration's entry for the module called name.
func Module(name string) (event.Module, error) {
	cfg, err := Config()
	if err != nil {
		return event.Module{}, err
	}
	for _, m := range cfg.Modules {
		if m.Name == name {
			return m, nil
		}
	}
	return event.Module{}, fmt.Errorf("module %s is not in the run config", name)
}

// ModulePath returns the guest path of the module called name.
func ModulePath(name string) (string, error) {
	m, err := Module(name)
	if err != nil {
		return "", err
	}
	return m.Path, nil
}

// LoadModule loads the module file at path with params ("key=value ...")
// through finit_module. Compressed modules (.ko.xz, .ko.zst, .ko.gz) are
// handed to the kernel to decompress, which needs 6.4 or later.
func LoadModule(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load module: %w", err)
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(path, ".ko") {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(int(f.Fd()), params, flags); err != nil {
		return fmt.Errorf("load module %s %q: %w", path, params, err)
	}
	return nil
}

// UnloadModule removes the module called name without waiting: a module in
// use fails at once with EAGAIN (EWOULDBLOCK) or EBUSY.
func UnloadModule(name string) error {
	if err := unix.DeleteModule(name, unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("unload module %s: %w", name, err)
	}
	return nil
}

// ModuleLoaded reports whether a module called name is loaded.
func ModuleLoaded(name string) bool {
	_, err := os.Stat("/sys/module/" + name + "/initstate")
	return err == nil
}

// ReloadModule unloads the module called name and loads it again from the
// run configuration's path with params. A cleanup restores it, loaded with
// the configuration's parameters, when t ends, so later tests find it as the
// agent left it. The module must not be in use.
func ReloadModule(t testing.TB, name, params string) {
	t.Helper()
	m, err := Module(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RestoreModule(t, m) })
	if err := UnloadModule(name); err != nil {
		t.Fatal(err)
	}
	if err := LoadModule(m.Path, params); err != nil {
		t.Fatal(err)
	}
}

// RestoreModule leaves module m loaded with its configured parameters,
// whatever state a test left it in.
func RestoreModule(t testing.TB, m event.Module) {
	t.Helper()
	if ModuleLoaded(m.Name) {
		if err := UnloadModule(m.Name); err != nil {
			t.Errorf("restore: %v", err)
			return
		}
	}
	if err := LoadModule(m.Path, m.Params); err != nil && !errors.Is(err, unix.EEXIST) {
		t.Errorf("restore: %v", err)
	}
}
