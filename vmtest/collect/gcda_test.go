package collect

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
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
