// Package symbol maps the code locations of kernel reports to source lines:
// a module's frame (function+offset) through the .ko's symbols and DWARF,
// a kernel's frame through a vmlinux with debug info, with the functions
// inlined there, as addr2line -i prints them.
//
// It is pure Go (debug/elf, debug/dwarf). A .ko is a relocatable object,
// where every section starts at address 0: Open places its sections apart
// before it applies the DWARF relocations, so that an offset in .text and
// one in .init.text name different code, as binutils does.
package symbol
