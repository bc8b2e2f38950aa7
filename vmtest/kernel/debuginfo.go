package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/vmtest/debian"
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
// nothing fetched: hasDWARF says which file qualifies. A Debian kernel's
// comes from its -dbg package (linux-image-<abi>-dbg, 0.8-1.2 GB), which
// is downloaded once: the vmlinux and System.map are kept under
// debuginfo/<ID>/ in the cache (about 630 MB for 6.1) and the package is
// not.
func (f *Fetcher) DebugInfo(ctx context.Context, k *Kernel, hasDWARF func(path string) bool) (*DebugInfo, error) {
	if d := k.OwnDebugInfo(hasDWARF); d != nil {
		return d, nil
	}
	if k.Provider != ProviderDebian || k.ID == "" {
		return nil, fmt.Errorf("%w for %s: its %s provider has no debug package (build the kernel with CONFIG_DEBUG_INFO)", ErrNoDebugInfo, k.Name, k.Provider)
	}
	dir := f.Cache.debugInfoDir(k.ID)
	if d, err := readDebugInfo(dir); err == nil {
		return d, nil
	}
	if f.Offline {
		return nil, fmt.Errorf("%w for %s in the cache, and offline: run once with network", ErrNoDebugInfo, k.Name)
	}
	l, err := f.Cache.lock(ctx, "debuginfo-"+k.ID)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if d, err := readDebugInfo(dir); err == nil {
		return d, nil // made by another process while we waited
	}
	pkg, err := f.debugPackage(ctx, k)
	if err != nil {
		return nil, err
	}
	f.logf("%s: downloading %s (%d MB) for the kernel's debug info", k.Name, pkg, pkg.Size>>20)
	var d *DebugInfo
	var uerr error
	err = f.WithPackages(ctx, k.Name+" debug info", []debian.Package{pkg}, func(debs []string) error {
		d, uerr = f.unpackDebugInfo(ctx, k, pkg, debs[0], dir)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", pkg, err)
	}
	return d, uerr
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

// debugPackage finds k's -dbg package at k's version.
func (f *Fetcher) debugPackage(ctx context.Context, k *Kernel) (debian.Package, error) {
	ix, err := f.Index(ctx)
	if err != nil {
		return debian.Package{}, err
	}
	name := "linux-image-" + k.ABI + "-dbg"
	var versions []string
	for _, p := range ix.Lookup(name) {
		if p.Version == k.Version {
			return p, nil
		}
		versions = append(versions, p.Version)
	}
	if len(versions) == 0 {
		return debian.Package{}, fmt.Errorf("%w for %s: Debian's archive has no %s", ErrNoDebugInfo, k.Name, name)
	}
	return debian.Package{}, fmt.Errorf("%w for %s: Debian's archive offers %s only at %s, not the kernel's %s (fetch the kernel again to move to that build)",
		ErrNoDebugInfo, k.Name, name, strings.Join(versions, ", "), k.Version)
}

// unpackDebugInfo takes the vmlinux and System.map out of deb into a
// temporary directory and renames it to dir.
func (f *Fetcher) unpackDebugInfo(ctx context.Context, k *Kernel, pkg debian.Package, deb, dir string) (*DebugInfo, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+k.ID+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	members := map[string]string{
		"./usr/lib/debug/boot/vmlinux-" + k.ABI:    "vmlinux",
		"./usr/lib/debug/boot/System.map-" + k.ABI: "System.map",
	}
	f.logf("%s: unpacking %s", k.Name, pkg)
	got, err := debian.ExtractFiles(ctx, deb, tmp,
		func(m string) (string, bool) { n, ok := members[m]; return n, ok },
		func(got map[string]bool) bool { return len(got) == len(members) })
	if err != nil {
		return nil, err
	}
	if !got["vmlinux"] {
		return nil, fmt.Errorf("%w for %s: %s has no usr/lib/debug/boot/vmlinux-%s", ErrNoDebugInfo, k.Name, pkg, k.ABI)
	}
	m := debugInfoManifest{DebugInfo: DebugInfo{Vmlinux: "vmlinux", Package: pkg.String()}, Files: map[string]int64{}}
	if got["System.map"] {
		m.SystemMap = "System.map"
	}
	for name := range got {
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
