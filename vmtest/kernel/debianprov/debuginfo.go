package debianprov

import (
	"context"
	"fmt"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/debian"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// MakeDebugInfo implements kernel.DebugSource: a Debian kernel's debug
// information is in its -dbg package (linux-image-<abi>-dbg, 0.8-1.2 GB),
// of which the vmlinux and System.map are kept (about 630 MB for 6.1) and
// the package is not.
func (p *Provider) MakeDebugInfo(ctx context.Context, k *kernel.Kernel, dir string) (*kernel.DebugInfo, error) {
	pkg, err := p.debugPackage(ctx, k)
	if err != nil {
		return nil, err
	}
	p.logf("%s: downloading %s (%d MB) for the kernel's debug info", k.Name, pkg, pkg.Size>>20)
	var di *kernel.DebugInfo
	var uerr error
	err = p.WithPackages(ctx, k.Name+" debug info", []debian.Package{pkg}, func(debs []string) error {
		di, uerr = p.unpackDebugInfo(ctx, k, pkg, debs[0], dir)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", pkg, err)
	}
	return di, uerr
}

// debugPackage finds k's -dbg package at k's version.
func (p *Provider) debugPackage(ctx context.Context, k *kernel.Kernel) (debian.Package, error) {
	ix, err := p.Index(ctx)
	if err != nil {
		return debian.Package{}, err
	}
	name := "linux-image-" + k.ABI + "-dbg"
	var versions []string
	for _, c := range ix.Lookup(name) {
		if c.Version == k.Version {
			return c, nil
		}
		versions = append(versions, c.Version)
	}
	if len(versions) == 0 {
		return debian.Package{}, fmt.Errorf("%w for %s: Debian's archive has no %s", kernel.ErrNoDebugInfo, k.Name, name)
	}
	return debian.Package{}, fmt.Errorf("%w for %s: Debian's archive offers %s only at %s, not the kernel's %s (fetch the kernel again to move to that build)",
		kernel.ErrNoDebugInfo, k.Name, name, strings.Join(versions, ", "), k.Version)
}

// unpackDebugInfo takes the vmlinux and System.map out of deb into dir.
func (p *Provider) unpackDebugInfo(ctx context.Context, k *kernel.Kernel, pkg debian.Package, deb, dir string) (*kernel.DebugInfo, error) {
	members := map[string]string{
		"./usr/lib/debug/boot/vmlinux-" + k.ABI:    "vmlinux",
		"./usr/lib/debug/boot/System.map-" + k.ABI: "System.map",
	}
	p.logf("%s: unpacking %s", k.Name, pkg)
	got, err := debian.ExtractFiles(ctx, deb, dir,
		func(m string) (string, bool) { n, ok := members[m]; return n, ok },
		func(got map[string]bool) bool { return len(got) == len(members) })
	if err != nil {
		return nil, err
	}
	if !got["vmlinux"] {
		return nil, fmt.Errorf("%w for %s: %s has no usr/lib/debug/boot/vmlinux-%s", kernel.ErrNoDebugInfo, k.Name, pkg, k.ABI)
	}
	d := &kernel.DebugInfo{Vmlinux: "vmlinux", Package: pkg.String()}
	if got["System.map"] {
		d.SystemMap = "System.map"
	}
	return d, nil
}
