package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kmodvm/kmodvm/internal/proc"
)

// Depmod generates modules.dep for the modules tree modDir of root, for
// providers that install modules themselves (Debian's packages leave it to
// their postinst) unless there is one. depmod reads <root>/lib/modules/<abi>;
// from 6.19 Debian installs into /usr/lib/modules, reached through a lib ->
// usr/lib link.
func Depmod(ctx context.Context, root, abi, modDir string) error {
	if _, err := os.Stat(filepath.Join(modDir, "modules.dep")); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(root, "lib")); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("usr", "lib"), filepath.Join(root, "lib")); err != nil {
			return err
		}
	}
	bin, err := FindDepmod()
	if err != nil {
		return err
	}
	out, err := proc.Command(ctx, bin, "-b", root, abi).CombinedOutput()
	if err != nil {
		return fmt.Errorf("depmod -b %s %s: %w: %s", root, abi, err, out)
	}
	if _, err := os.Stat(filepath.Join(modDir, "modules.dep")); err != nil {
		return fmt.Errorf("depmod wrote no modules.dep in %s", modDir)
	}
	return nil
}

// FindDepmod returns the host's depmod.
func FindDepmod() (string, error) {
	if p, err := exec.LookPath("depmod"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/depmod", "/sbin/depmod"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("depmod not found: install kmod (run `make deps`)")
}
