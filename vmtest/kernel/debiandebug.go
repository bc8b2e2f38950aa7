package kernel

import (
	"context"
	"fmt"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/debian"
)

// MakeDebugInfo implements DebugSource: a Debian kernel's debug
// information is in its -dbg package (linux-image-<abi>-dbg, 0.8-1.2 GB),
// of which the vmlinux and System.map are kept (about 630 MB for 6.1) and
// the package is not.
func (d debianProvider) MakeDebugInfo(ctx context.Context, k *Kernel, dir string) (*DebugInfo, error) {
	f := d.f
	pkg, err := f.debugPackage(ctx, k)
	if err != nil {
		return nil, err
	}
	f.logf("%s: downloading %s (%d MB) for the kernel's debug info", k.Name, pkg, pkg.Size>>20)
	var di *DebugInfo
	var uerr error
	err = f.WithPackages(ctx, k.Name+" debug info", []debian.Package{pkg}, func(debs []string) error {
		di, uerr = f.unpackDebugInfo(ctx, k, pkg, debs[0], dir)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", pkg, err)
	}
	return di, uerr
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

// unpackDebugInfo takes the vmlinux and System.map out of deb into dir.
func (f *Fetcher) unpackDebugInfo(ctx context.Context, k *Kernel, pkg debian.Package, deb, dir string) (*DebugInfo, error) {
	members := map[string]string{
		"./usr/lib/debug/boot/vmlinux-" + k.ABI:    "vmlinux",
		"./usr/lib/debug/boot/System.map-" + k.ABI: "System.map",
	}
	f.logf("%s: unpacking %s", k.Name, pkg)
	got, err := debian.ExtractFiles(ctx, deb, dir,
		func(m string) (string, bool) { n, ok := members[m]; return n, ok },
		func(got map[string]bool) bool { return len(got) == len(members) })
	if err != nil {
		return nil, err
	}
	if !got["vmlinux"] {
		return nil, fmt.Errorf("%w for %s: %s has no usr/lib/debug/boot/vmlinux-%s", ErrNoDebugInfo, k.Name, pkg, k.ABI)
	}
	d := &DebugInfo{Vmlinux: "vmlinux", Package: pkg.String()}
	if got["System.map"] {
		d.SystemMap = "System.map"
	}
	return d, nil
}
