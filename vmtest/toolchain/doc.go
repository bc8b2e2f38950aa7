// Package toolchain is where a kernel or a module is compiled: the
// compiler a kernel expects (the one it was built with, from its headers'
// .kernelvariables or its config), on the host when the host has it and
// can run the kernel's build tools, else chrooted into a minimal Debian
// userland of the compiler's release, made once with debootstrap and kept
// in the cache's toolchains folder.
//
// Module builds (kbuild) and kernel builds from source (srcbuild) both use
// it; it sits below both, so neither imports the other.
package toolchain
