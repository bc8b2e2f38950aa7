package vmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/coverage"
)

// The gcov data of a VM is each file whole: pieces in order, the reading
// after unload (with the module's exit counted) over the one before it,
// and a reading whose pieces do not add up is dropped, not used in part.
func TestGcdaFilesKeepWholeFilesPreferringTheLastReading(t *testing.T) {
	g := gcdaFiles{}
	piece := func(stage, path string, off, size int64, data string) {
		g.add(stage, &event.FileChunk{Path: path, Offset: off, Size: size, Data: []byte(data)})
	}
	piece(event.StageAfterTests, "/b/a.gcda", 0, 6, "abc")
	piece(event.StageAfterTests, "/b/a.gcda", 3, 6, "def")
	piece(event.StageAfterUnload, "/b/a.gcda", 0, 6, "ABC")
	piece(event.StageAfterUnload, "/b/a.gcda", 3, 6, "DEF")
	// b.gcda: the reading after unload lost a piece; the first stands.
	piece(event.StageAfterTests, "/b/b.gcda", 0, 4, "1234")
	piece(event.StageAfterUnload, "/b/b.gcda", 0, 6, "12")
	piece(event.StageAfterUnload, "/b/b.gcda", 4, 6, "56")
	// c.gcda: its first piece never came.
	piece(event.StageAfterTests, "/b/c.gcda", 3, 6, "xyz")
	// d.gcda: more bytes than it said it had.
	piece(event.StageAfterTests, "/b/d.gcda", 0, 2, "toolong")
	got := g.whole()
	want := map[string]string{"/b/a.gcda": "ABCDEF", "/b/b.gcda": "1234"}
	if len(got) != len(want) {
		t.Errorf("whole files: %q", got)
	}
	for p, w := range want {
		if string(got[p]) != w {
			t.Errorf("%s = %q, want %q", p, got[p], w)
		}
	}
	dir := t.TempDir()
	if err := g.write(dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b", "a.gcda")); err != nil || !bytes.Equal(b, []byte("ABCDEF")) {
		t.Errorf("written a.gcda: %q, %v", b, err)
	}
}

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
