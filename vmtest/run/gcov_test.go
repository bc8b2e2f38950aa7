package run

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// gcov names the build directory's copies of the sources and the kernel
// headers the module included: only the module's own files are kept, named
// under the directory the user gave.
func TestOwnFilesAreTheModulesSourcesUnderTheUsersDirectory(t *testing.T) {
	b := gcovBuild{buildDir: "/out/k/build/0/src", source: "/home/u/drv"}
	files := []coverage.File{
		{Path: "/out/k/build/0/src/drv.c"},
		{Path: "/out/k/build/0/src/sub/helpers.h"},
		{Path: "/out/k/build/0/src/drv.mod.c"},
		{Path: "/cache/kernels/x/include/linux/mm.h"},
		{Path: "/out/k/build/0/srcother/x.c"},
	}
	got := ownFiles(files, b)
	if len(got) != 2 || got[0].Path != "/home/u/drv/drv.c" || got[1].Path != "/home/u/drv/sub/helpers.h" {
		t.Errorf("own files: %+v", got)
	}
}

// testdata/gcov holds the bundled driver's notes (mmapdrv.gcno) from a
// build for 6.1.192-debug in /tmp/cov/run1/6.1.192-debug/build/0/src and
// the counters (mmapdrv.gcda) a guest of that kernel sent after the suite.
const fixtureBuildDir = "/tmp/cov/run1/6.1.192-debug/build/0/src"

// sendGcda feeds a collector the fixture's counters as the agent sends
// them, and keeps them as VM number run of the kernel in dir.
func sendGcda(t *testing.T, dir string, run int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "gcov", "mmapdrv.gcda"))
	if err != nil {
		t.Fatal(err)
	}
	col := collect.New(collect.Options{})
	path := fixtureBuildDir + "/mmapdrv.gcda"
	for off := 0; off < len(data); off += 400 {
		chunk := data[off:min(off+400, len(data))]
		col.Handle(event.Event{Type: event.Gcov, Stage: event.StageAfterUnload, Chunk: &event.FileChunk{Path: path, Offset: int64(off), Size: int64(len(data)), Data: chunk}})
	}
	if err := keepGcda(col, dir, run); err != nil {
		t.Fatal(err)
	}
}

// The host reads each VM's counters with the build's gcov against the
// build's notes, keeps the module's own files under the user's directory,
// and sums the VMs (the first and a reboot's): every count doubles.
func TestCoverageSumsTheKernelsVMsReadByTheBuildsGcov(t *testing.T) {
	if _, err := exec.LookPath("gcov-12"); err != nil {
		t.Skip("no gcov-12 (Debian's gcc-12)")
	}
	build := gcovBuild{buildDir: fixtureBuildDir, workDir: filepath.Join("testdata", "gcov"), source: "/home/u/kmod",
		notes: []string{"mmapdrv.gcno"}, tc: &toolchain.Toolchain{Compiler: "gcc-12"}}
	read := func(vms int) *report.Kernel {
		dir := t.TempDir()
		for run := 0; run < vms; run++ {
			sendGcda(t, dir, run)
		}
		kr := &report.Kernel{Name: "6.1.192-debug", Files: map[string]string{}}
		kernelCoverage(t.Context(), kr, dir, []gcovBuild{build})
		if kr.Note != "" || kr.Files["coverage.info"] == "" {
			t.Fatalf("note %q, files %v", kr.Note, kr.Files)
		}
		return kr
	}
	one, two := read(1), read(2)
	var paths []string
	for _, f := range one.Coverage {
		paths = append(paths, f.Path)
	}
	if len(one.Coverage) != 3 || one.Coverage[1].Path != "/home/u/kmod/mmapdrv.c" {
		t.Fatalf("files %q, want compat.h, mmapdrv.c and mmapdrv_checks.h under /home/u/kmod", paths)
	}
	if s := one.Coverage[1].Summary(); s.Lines != 103 || s.LinesHit != 103 {
		t.Errorf("mmapdrv.c: %+v", s)
	}
	for i, f := range one.Coverage {
		for j, l := range f.Lines {
			if got := two.Coverage[i].Lines[j]; got.Number != l.Number || got.Count != 2*l.Count {
				t.Fatalf("%s:%d: %d after two VMs, %d after one", f.Path, l.Number, got.Count, l.Count)
			}
		}
	}
}

// Data the build has no notes for (a file the guest sent that this build
// did not make) is named in the kernel's note; the rest still counts.
func TestCoverageSaysWhatItCouldNotRead(t *testing.T) {
	if _, err := exec.LookPath("gcov-12"); err != nil {
		t.Skip("no gcov-12 (Debian's gcc-12)")
	}
	dir := t.TempDir()
	sendGcda(t, dir, 0)
	stray := filepath.Join(dir, "gcda", fixtureBuildDir, "stray.gcda")
	if err := os.WriteFile(stray, []byte("adcg"), 0o644); err != nil {
		t.Fatal(err)
	}
	kr := &report.Kernel{Files: map[string]string{}}
	build := gcovBuild{buildDir: fixtureBuildDir, workDir: filepath.Join("testdata", "gcov"), source: "/home/u/kmod",
		notes: []string{"mmapdrv.gcno"}, tc: &toolchain.Toolchain{Compiler: "gcc-12"}}
	kernelCoverage(t.Context(), kr, dir, []gcovBuild{build})
	if !strings.Contains(kr.Note, "stray.gcda: no stray.gcno in the build") || len(kr.Coverage) != 3 {
		t.Errorf("note %q, %d files of coverage", kr.Note, len(kr.Coverage))
	}
}
