// Package vmtest runs a kernel module's Go tests on a matrix of real kernels
// in QEMU and reports, per kernel and per test, what built, booted, loaded,
// passed and broke.
//
// RunMatrix does the work for any caller; Run wraps it for `go test`, with
// one subtest per kernel and guest test, so that
//
//	go test ./vmtest -run 'TestMatrix/6.1/TestMmap'
//
// and tools such as gotestsum see each guest test as a test of their own.
// The subpackages hold the parts: runcfg (the run's settings, which
// Config names), run (the runner: fetch, build, image, boot, reboot),
// collect (a guest's events and kernel log made a kernel's report),
// kernel (fetching), kbuild (module builds), qemu (VMs), dmesg
// (kernel-log findings) and report (results).
//
// A kernel's VM normally starts from a snapshot of a guest booted to the
// agent's idle point, kept in the cache, and gets the run's image layers
// over shared memory (run/snapshot.go, docs/snapshots.md);
// Config.NoSnapshot boots every VM.
package vmtest
