// Package moddep reads a kernel modules tree's modules.dep (written by
// depmod) and names modules as the kernel does. The kernel cache prunes a
// tree with it; the guest image builder resolves the modules a run needs.
package moddep

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Entry is one module of modules.dep: its file and the files of the
// modules it needs, relative to the modules directory
// ("kernel/lib/crc-itu-t.ko.xz").
type Entry struct {
	Path string
	Deps []string
}

// Read indexes dir's modules.dep by module name.
func Read(dir string) (map[string]Entry, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("read modules.dep (run depmod for the kernel): %w", err)
	}
	defer f.Close()
	idx := map[string]Entry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		idx[Name(mod)] = Entry{Path: mod, Deps: strings.Fields(rest)}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return idx, nil
}

// Name turns a module's file name, path or name into the kernel's
// spelling of its name: no directory, no .ko or compression suffix, '_'
// for '-'.
func Name(s string) string {
	s = path.Base(filepath.ToSlash(s))
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}
