// Package kernel names, resolves and caches the kernels kmodvm boots.
//
// A Selector ("6.1", "7.3-rt", "6.12.113+deb12-amd64", "latest", "6.1-debug",
// or a path) is resolved by the Provider that accepts it into a Spec, whose
// ID names the kernel everywhere; the provider then makes one Kernel: a
// bootable image (a PVH vmlinux where possible), its modules tree with
// modules.dep, its config, and a headers tree in which `make -C KDir M=dir
// modules` builds out-of-tree modules. The Fetcher is the providers and the
// Cache: it keeps what they make in entries keyed by ID, each made under a
// cross-process lock, written under a temporary name, renamed into place
// and verified against its manifest before use.
//
// The package knows one provider, a user's own trees (used in place, not
// cached). Debian's packaged kernels (debianprov) and kernels built from
// Debian's sources (srcbuild) are providers of their own packages, below
// which this one sits.
package kernel
