// Package coverage is the line and branch coverage of kernel modules
// built with gcov profiling: gcov's JSON output read into counts per
// source line, the counts of several VMs and kernels summed, and lcov
// tracefiles (coverage.info) written and read.
//
// It is pure Go; running gcov (the one of the compiler that built the
// module) is its caller's business.
package coverage
