package agent

import (
	"bufio"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
)

// loadedModule reads where module name lies: /proc/modules for the base and
// size, /sys/module/<name>/sections for each section (root only); sizes,
// if known, are the sections' sizes.
func loadedModule(name string, sizes map[string]uint64) *event.LoadedModule {
	name = moddep.Name(name)
	f, err := os.Open("/proc/modules")
	if err != nil {
		return nil
	}
	defer f.Close()
	m := findModule(f, name)
	if m == nil {
		return nil
	}
	dir := filepath.Join("/sys/module", name, "sections")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64); err == nil {
			if m.Sections == nil {
				m.Sections = map[string]uint64{}
			}
			m.Sections[e.Name()] = v
		}
	}
	if len(m.Sections) > 0 {
		m.Sizes = sizes
	}
	return m
}

// findModule finds module name in /proc/modules' format.
func findModule(r io.Reader, name string) *event.LoadedModule {
	var m *event.LoadedModule
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// "mmapdrv 16384 0 - Live 0xffffffffc0000000 (OE)"
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[0] != name {
			continue
		}
		size, _ := strconv.ParseUint(fs[1], 10, 64)
		base, _ := strconv.ParseUint(strings.TrimPrefix(fs[5], "0x"), 16, 64)
		m = &event.LoadedModule{Base: base, Size: size}
	}
	return m
}

// sectionSizer reads the sizes of modules' sections from their files,
// each file once: a test reloading a module loads the same file.
type sectionSizer map[string]map[string]uint64

// of returns the sizes of the sections the kernel loads from the module
// file at path (those it lists in sysfs: allocated, not empty), or nil.
func (s sectionSizer) of(path string) map[string]uint64 {
	if path == "" {
		return nil
	}
	if sizes, ok := s[path]; ok {
		return sizes
	}
	sizes, _ := sectionSizes(path)
	s[path] = sizes
	return sizes
}

// sectionSizes reads the allocated sections' sizes of the module file at
// path, compressed or not.
func sectionSizes(path string) (map[string]uint64, error) {
	var r io.ReaderAt
	if isCompressed(path) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		b, err := decompress(f, path)
		f.Close()
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	sizes := map[string]uint64{}
	for _, s := range ef.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 {
			sizes[s.Name] = s.Size
		}
	}
	return sizes, nil
}
