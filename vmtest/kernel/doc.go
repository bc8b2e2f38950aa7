// Package kernel names, fetches and caches the kernels kmodvm boots: Debian's
// packaged kernels (5.10 to 7.x, any flavour) and users' own builds.
//
// A Selector ("6.1", "7.3-rt", "6.12.113+deb12-amd64", "latest", or a path)
// resolves to one Kernel: a bootable image (a PVH vmlinux where possible), its
// modules tree with modules.dep, its config, and a headers tree in which
// `make -C KDir M=dir modules` builds out-of-tree modules. Fetched kernels
// live in a content-addressed Cache that is safe to share between processes.
package kernel
