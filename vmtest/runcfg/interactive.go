package runcfg

import "io"

// Terminal is where Config.Shell's shell talks: the caller's terminal,
// already in raw mode (the guest's port does the line editing and echo).
type Terminal struct {
	In  io.Reader
	Out io.Writer
	// Rows and Cols are its size; 0 leaves the guest's default.
	Rows, Cols int
	// Env is added to the shell's environment (TERM=xterm-256color).
	Env []string
}

// Debugger is how to attach gdb to a VM stopped before its tests.
type Debugger struct {
	// Kernel is the kernel's name; Address QEMU's gdb stub (host:port).
	Kernel, Address string
	// GDB is the debugger for the kernel's architecture: gdb, or
	// gdb-multiarch for arm64.
	GDB string
	// Vmlinux is the kernel with symbols gdb loads, "" when it has none
	// (Debian's stock kernels: their vmlinux is stripped).
	Vmlinux string
	// Modules are the modules under test: the host's .ko and the address
	// of each section in the guest.
	Modules []DebugModule
	// Command attaches gdb with all of the above, for a shell.
	Command string
}

// DebugModule is a loaded module under test, as gdb's add-symbol-file wants it.
type DebugModule struct {
	Name, Path string
	Sections   map[string]uint64
	// Linked is the .ko linked at those addresses (arch.Arch.GDBLink),
	// which gdb then reads as it is.
	Linked string
	// BuildDir is where the .ko was compiled (its DWARF names files
	// there), Source the module's directory: gdb is told to read the one
	// as the other.
	BuildDir, Source string
}
