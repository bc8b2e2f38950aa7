package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
)

// DebugInfo is a kernel's debug information kept beside its cache entry:
// a vmlinux with DWARF (file:line of the kernel's own frames, gdb's
// symbols) and the real System.map.
type DebugInfo struct {
	Vmlinux   string `json:"vmlinux"`
	SystemMap string `json:"system_map,omitempty"`
	// Package is where it came from ("linux-image-6.1.0-57-amd64-dbg=6.1.192-3").
	Package string `json:"package"`
}

// debugInfoManifest is debuginfo/<ID>/manifest.json: the files and their
// sizes, checked before every use like a kernel entry's.
type debugInfoManifest struct {
	DebugInfo
	Files map[string]int64 `json:"files"`
}

// ErrNoDebugInfo means no debug information can be had for a kernel: a
// kernel whose provider publishes none, or a package the archive no
// longer offers.
var ErrNoDebugInfo = errors.New("no debug information")

func (c *Cache) debugInfoDir(id string) string { return filepath.Join(c.Layout().DebugInfo(), id) }

// DebugInfo returns the debug information of k. A kernel with a vmlinux
// with DWARF of its own (one built from source, a user's tree) needs
// nothing fetched: hasDWARF says which file qualifies. Else k's provider
// must publish it (a DebugSource: Debian's -dbg packages); it is made once
// and kept under debuginfo/<ID>/ in the cache, beside the kernel's entry,
// verified by its manifest like the entry.
func (f *Fetcher) DebugInfo(ctx context.Context, k *Kernel, hasDWARF func(path string) bool) (*DebugInfo, error) {
	if d := k.OwnDebugInfo(hasDWARF); d != nil {
		return d, nil
	}
	var src DebugSource
	if p, err := f.Provider(k.Provider); err == nil {
		src, _ = p.(DebugSource)
	}
	if src == nil || k.ID == "" {
		return nil, fmt.Errorf("%w for %s: its %s provider has no debug package (build the kernel with CONFIG_DEBUG_INFO)", ErrNoDebugInfo, k.Name, k.Provider)
	}
	dir := f.Cache.debugInfoDir(k.ID)
	if d, err := readDebugInfo(dir); err == nil {
		return d, nil
	}
	if f.Offline {
		return nil, fmt.Errorf("%w for %s in the cache, and offline: run once with network", ErrNoDebugInfo, k.Name)
	}
	l, err := f.Cache.Lock(ctx, "debuginfo-"+k.ID)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if d, err := readDebugInfo(dir); err == nil {
		return d, nil // made by another process while we waited
	}
	return makeDebugInfo(ctx, src, k, dir)
}

// OwnDebugInfo is the debug information k carries itself: its tree's
// vmlinux, or the one it boots, when hasDWARF says it has DWARF; nil
// otherwise (a Debian kernel's is in its -dbg package: Fetcher.DebugInfo).
func (k *Kernel) OwnDebugInfo(hasDWARF func(path string) bool) *DebugInfo {
	var candidates []string
	if k.KDir != "" {
		candidates = append(candidates, filepath.Join(k.KDir, "vmlinux"))
	}
	if k.Vmlinux != "" {
		candidates = append(candidates, k.Vmlinux)
	}
	for _, p := range candidates {
		if hasDWARF(p) {
			return &DebugInfo{Vmlinux: p, SystemMap: k.SystemMap}
		}
	}
	return nil
}

// makeDebugInfo has src make k's debug information in a temporary
// directory, records its files in a manifest and renames it to dir.
func makeDebugInfo(ctx context.Context, src DebugSource, k *Kernel, dir string) (*DebugInfo, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+k.ID+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	d, err := src.MakeDebugInfo(ctx, k, tmp)
	if err != nil {
		return nil, err
	}
	m := debugInfoManifest{DebugInfo: *d, Files: map[string]int64{}}
	for _, name := range []string{d.Vmlinux, d.SystemMap} {
		if name == "" {
			continue
		}
		info, err := os.Stat(filepath.Join(tmp, name))
		if err != nil {
			return nil, err
		}
		m.Files[name] = info.Size()
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, "manifest.json"), b); err != nil {
		return nil, err
	}
	if err := removeTree(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return readDebugInfo(dir)
}

// readDebugInfo reads and verifies dir's manifest; paths come back
// absolute.
func readDebugInfo(dir string) (*DebugInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m debugInfoManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, dir, err)
	}
	if m.Vmlinux == "" {
		return nil, fmt.Errorf("%w: %s: no vmlinux", ErrCorrupt, dir)
	}
	if err := verifyFiles(dir, m.Files); err != nil {
		return nil, err
	}
	d := m.DebugInfo
	d.Vmlinux = filepath.Join(dir, d.Vmlinux)
	if d.SystemMap != "" {
		d.SystemMap = filepath.Join(dir, d.SystemMap)
	}
	return &d, nil
}
