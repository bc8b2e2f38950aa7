//go:build !s390x

package mmapdrv

import "syscall"

// cloneArg0 and cloneArg1 are clone's first two arguments for a fork: the
// flags (the child's exit signal alone), then the child's stack (0: where
// the parent's is, copied).
const (
	cloneArg0 = uintptr(syscall.SIGCHLD)
	cloneArg1 = 0
)
