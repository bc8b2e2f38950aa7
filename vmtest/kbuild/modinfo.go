package kbuild

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"

	"github.com/kmodvm/kmodvm/internal/moddep"
)

// Module is a built kernel module and what its .modinfo section says.
type Module struct {
	Name     string            `json:"name"`
	Path     string            `json:"path"`
	Vermagic string            `json:"vermagic"`
	Depends  []string          `json:"depends,omitempty"`
	Info     map[string]string `json:"info,omitempty"`
}

// ReadModule reads a .ko's .modinfo section.
func ReadModule(path string) (*Module, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .modinfo section: not a kernel module", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := &Module{Path: path, Info: ParseModinfo(data)}
	m.Name = m.Info["name"]
	if m.Name == "" {
		m.Name = moddep.Name(path)
	}
	m.Vermagic = m.Info["vermagic"]
	if d := m.Info["depends"]; d != "" {
		m.Depends = strings.Split(d, ",")
	}
	return m, nil
}

// ParseModinfo splits a .modinfo section into its key=value pairs. Keys
// that repeat (alias, parm) keep their values joined by newlines.
func ParseModinfo(data []byte) map[string]string {
	out := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok || k == "" {
			continue
		}
		if old, dup := out[k]; dup {
			v = old + "\n" + v
		}
		out[k] = v
	}
	return out
}
