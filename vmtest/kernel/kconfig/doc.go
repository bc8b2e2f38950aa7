// Package kconfig reads a kernel tree's Kconfig files and Makefiles for
// what a kernel built from source needs to build the in-kernel modules a
// user's module depends on: which option builds a module (ModuleOptions,
// from the Makefiles, as scripts/kconfig/streamline_config.pl does) and
// the configuration fragment that sets those options and everything their
// conditions need, at the values a stock kernel's config gives them
// (DependencyFragment).
//
// It is not a Kconfig implementation: it keeps `depends on`, the enclosing
// `if`, `menu` and `choice` conditions, prompts and defaults, and ignores
// the rest (select, imply, range, help text, macros' definitions).
package kconfig
