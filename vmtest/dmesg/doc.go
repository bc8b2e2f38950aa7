// Package dmesg finds bug reports in a Linux kernel log: warnings, Oopses,
// BUGs, lockups, hung tasks, sanitizer reports, panics and taint messages.
// It names each one with a stable title such as "WARNING in mmapdrv_read".
//
// Like syzkaller's pkg/report, recognition is data: a table of report
// headers with title templates (patterns.go), pinned by real kernel logs
// under testdata/report with the findings expected from each. Scan reads a
// whole log; a Scanner takes console lines or /dev/kmsg records one at a
// time as a VM prints them.
package dmesg
