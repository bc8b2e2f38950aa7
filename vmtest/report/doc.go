// Package report is kmodvm's result model and its renderings: JSON for
// machines, JUnit XML for CI test tabs, Markdown for pull-request summaries,
// a self-contained HTML page for people, and GitHub annotations.
//
// One Report holds a run's kernels; each kernel holds its build, boot,
// module loads, tests and kernel-log findings. Reports from several CI jobs
// merge into one. A report of several architectures has one kernel per
// kernel and architecture, and every rendering groups them by
// architecture (arches.go); one of a single architecture shows none of it.
package report
