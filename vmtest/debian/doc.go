// Package debian reaches Debian's package archive through apt with a private
// configuration, so that kernels, headers and toolchains can be resolved and
// downloaded without root and without touching the host's apt state.
//
// An Archive keeps its own sources list, package lists and download cache
// under one directory. It indexes only the kernel packages of the suites it
// knows (bullseye to sid), compares versions the way dpkg does, and verifies
// every downloaded package against the archive's SHA-256 checksums.
package debian
