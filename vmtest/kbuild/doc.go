// Package kbuild builds out-of-tree kernel modules for a kernel, with the
// compiler that kernel was built with, run by a toolchain.Toolchain: the
// host's, or a Debian userland of the compiler's release (see package
// toolchain). Each build happens in its own output directory, never in the
// module's source tree, so kernels build in parallel, and successful
// builds are cached by everything that goes into them.
package kbuild
