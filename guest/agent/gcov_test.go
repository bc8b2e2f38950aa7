package agent

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

// The agent sends the .gcda files under the build directories it is told
// (debugfs' gcov tree mirrors the host's absolute paths), whole, in pieces
// a line can hold, and nothing else: not the .gcno links beside them, not
// other directories' data.
func TestGcovReportSendsTheBuildDirsGcdaFilesWhole(t *testing.T) {
	root := t.TempDir()
	build := "/out/6.1.192-debug/build/0/src"
	big := bytes.Repeat([]byte("0123456789abcdef"), (2*event.MaxChunk+100)/16)
	files := map[string][]byte{
		build + "/mmapdrv.gcda":       []byte("adcg\x00\x00\x00\x01"),
		build + "/kunit/test.gcda":    big,
		build + "/mmapdrv.gcno":       []byte("not data"),
		"/other/build/src/other.gcda": []byte("another module's"),
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	var mu sync.Mutex
	a := &Agent{enc: event.NewEncoder(lockedWriter{&mu, &buf})}
	a.gcovReport(root, []string{build, "/missing/dir"}, event.StageAfterUnload)

	got := map[string][]byte{}
	chunks := 0
	var logs []string
	d := event.NewDecoder(&buf)
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		switch ev.Type {
		case event.Gcov:
			chunks++
			c := ev.Chunk
			if ev.Stage != event.StageAfterUnload || c.Offset != int64(len(got[c.Path])) {
				t.Fatalf("chunk %s at %d (stage %q) out of order", c.Path, c.Offset, ev.Stage)
			}
			if int64(len(files[c.Path])) != c.Size {
				t.Errorf("%s: size %d, want %d", c.Path, c.Size, len(files[c.Path]))
			}
			got[c.Path] = append(got[c.Path], c.Data...)
		case event.Log:
			logs = append(logs, ev.Msg)
		}
	}
	if len(got) != 2 || !bytes.Equal(got[build+"/mmapdrv.gcda"], files[build+"/mmapdrv.gcda"]) || !bytes.Equal(got[build+"/kunit/test.gcda"], big) {
		t.Errorf("files sent: %d %q", len(got), keys(got))
	}
	if chunks != 1+3 {
		t.Errorf("%d chunks, want 1 for the small file and 3 for the big one", chunks)
	}
	if len(logs) != 1 {
		t.Errorf("agent logs %q, want one for the missing directory", logs)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
