package runcfg

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The files a run writes in each kernel's directory (Config.OutDir/<kernel>),
// named in its report (report.Kernel.Files).
const (
	// ConsoleLog is the guest's console: the kernel's loudest lines, and
	// everything after a panic.
	ConsoleLog = "console.log"
	// EventsFile is the agent's event stream as it arrived (NDJSON).
	EventsFile = "events.jsonl"
	// DmesgFile is the kernel log as the agent read it from /dev/kmsg.
	DmesgFile = "dmesg.txt"
	// BuildLog is the modules' build output.
	BuildLog = "build.log"
	// ReproScript boots the kernel's first VM again by hand.
	ReproScript = "repro.sh"
	// CoverageFile is the lcov tracefile of a kernel's directory, and of
	// the run's output directory for all kernels together.
	CoverageFile = "coverage.info"
	// GcdaDir holds the gcov data a VM's agent sent, at its guest paths.
	GcdaDir = "gcda"
)

// ArtifactName names a VM's artifact file: base.ext for the kernel's first
// VM (n 0), base.rebootN.ext for the N-th reboot.
func ArtifactName(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	return fmt.Sprintf("%s.reboot%d%s", strings.TrimSuffix(name, ext), n, ext)
}
