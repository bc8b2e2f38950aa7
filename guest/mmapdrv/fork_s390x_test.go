package mmapdrv

import "syscall"

// cloneArg0 and cloneArg1 are clone's first two arguments for a fork, in
// s390's order (CLONE_BACKWARDS2, as syscall.forkExec knows): the child's
// stack first (0: where the parent's is, copied), then the flags. In the
// other order the child has no exit signal and wait4 cannot see it.
const (
	cloneArg0 = 0
	cloneArg1 = uintptr(syscall.SIGCHLD)
)
