// Package kbuild builds out-of-tree kernel modules for a kernel, with the
// compiler that kernel was built with.
//
// When the host lacks that compiler, or the kernel's build tools need a
// newer C library than the host's, the build runs chrooted in a minimal
// Debian userland of the matching release (made once with debootstrap and
// cached). Each build happens in its own output directory, never in the
// module's source tree, so kernels build in parallel.
package kbuild
