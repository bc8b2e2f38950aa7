package debianprov

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/moddep"
)

// depmodOutputs are the files depmod writes in a modules directory.
var depmodOutputs = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.softdep", "modules.weakdep", "modules.symbols", "modules.symbols.bin",
	"modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname",
}

// pruneModules keeps, of a stock kernel's modules, only those a run can
// load, and removes the rest (7.3: 4225 modules, 101 MB, become 1022 and
// 42 MB). A guest gets the modules under test and the in-kernel modules
// they depend on, which modpost can only have found among the modules that
// export symbols (the headers' Module.symvers lists them): those, what they
// depend on in turn, and the early modules (the drivers of the agent's
// ports, which export nothing) stay. A module that exports nothing is a
// leaf no other module can need. No module is removed when the headers
// have no Module.symvers. depmod must have described the whole tree
// (modules.dep in modDir); pruneModules removes what depmod wrote, for a
// depmod of the pruned tree.
func pruneModules(modDir, kdir string, early []string) error {
	exporters, err := readExporters(filepath.Join(kdir, "Module.symvers"))
	if err != nil {
		return err
	}
	if len(exporters) > 0 {
		if err := removeLeaves(modDir, exporters, early); err != nil {
			return err
		}
	}
	for _, f := range depmodOutputs {
		if err := os.Remove(filepath.Join(modDir, f)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("prune modules: %w", err)
		}
	}
	return nil
}

// removeLeaves removes the modules that are neither exporters, nor early,
// nor needed by either.
func removeLeaves(modDir string, exporters map[string]bool, early []string) error {
	idx, err := moddep.Read(modDir)
	if err != nil {
		return err
	}
	keep := map[string]bool{} // by name
	var visit func(string)
	visit = func(name string) {
		e, ok := idx[name]
		if !ok || keep[name] {
			return
		}
		keep[name] = true
		for _, d := range e.Deps {
			visit(moddep.Name(d))
		}
	}
	for name, e := range idx {
		if exporters[strings.TrimPrefix(stripKo(e.Path), "kernel/")] {
			visit(name)
		}
	}
	for _, name := range early {
		visit(moddep.Name(name))
	}
	for name, e := range idx {
		if !keep[name] {
			if err := os.Remove(filepath.Join(modDir, e.Path)); err != nil {
				return fmt.Errorf("prune modules: %w", err)
			}
		}
	}
	removeEmptyDirs(filepath.Join(modDir, "kernel"))
	return nil
}

// readExporters returns the modules (paths relative to the build, without
// .ko: "drivers/usb/core/usbcore") that export a symbol, from a kernel
// build's Module.symvers: CRC, symbol, module, export type and namespace,
// tab-separated.
func readExporters(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mods := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) >= 3 && fields[2] != "vmlinux" {
			mods[fields[2]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return mods, nil
}

// stripKo removes a module file's .ko suffix and any compression suffix.
func stripKo(p string) string {
	if i := strings.LastIndex(p, ".ko"); i >= 0 {
		return p[:i]
	}
	return p
}

// removeEmptyDirs removes the directories under dir that pruning emptied.
func removeEmptyDirs(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeEmptyDirs(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir) // fails, as it should, unless empty
}
