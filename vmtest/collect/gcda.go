package collect

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
)

// gcdaFiles gathers the gcov data a VM's agent sent, by stage and path.
type gcdaFiles map[string]map[string]*gcdaFile

type gcdaFile struct {
	size   int64
	data   []byte
	broken bool // a piece was missing or did not fit
}

// add takes one Gcov event's chunk. A chunk at offset 0 starts the file
// over: the agent reads a file whole each time.
func (g gcdaFiles) add(stage string, c *event.FileChunk) {
	if c == nil || c.Path == "" {
		return
	}
	m := g[stage]
	if m == nil {
		m = map[string]*gcdaFile{}
		g[stage] = m
	}
	if f := m[c.Path].put(c); f != nil {
		m[c.Path] = f
	}
}

// put adds chunk c to f, the file so far (nil before its first piece),
// and returns the file: a chunk at offset 0 starts it over; nil when its
// first piece was lost.
func (f *gcdaFile) put(c *event.FileChunk) *gcdaFile {
	if c.Offset == 0 {
		f = &gcdaFile{size: c.Size}
	}
	if f == nil {
		return nil
	}
	if c.Offset != int64(len(f.data)) || c.Size != f.size || int64(len(f.data)+len(c.Data)) > f.size {
		f.broken = true
		return f
	}
	f.data = append(f.data, c.Data...)
	return f
}

// whole is the file's bytes when all arrived, else nil.
func (f *gcdaFile) whole() []byte {
	if f == nil || f.broken || int64(len(f.data)) != f.size {
		return nil
	}
	return f.data
}

// whole returns the files that arrived whole, by guest path: the reading
// after unload (which counts the module's exit too) over the one before.
func (g gcdaFiles) whole() map[string][]byte {
	out := map[string][]byte{}
	for _, stage := range []string{event.StageAfterTests, event.StageAfterUnload} {
		for p, f := range g[stage] {
			if b := f.whole(); b != nil {
				out[p] = b
			}
		}
	}
	return out
}

// write puts every whole file under dir at its guest path.
func (g gcdaFiles) write(dir string) error {
	for p, data := range g.whole() {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if !strings.HasPrefix(dst, filepath.Clean(dir)+string(filepath.Separator)) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteGcda puts the gcov data the VM's agent sent (each file that
// arrived whole, the reading after unload over the one before) under dir
// at its guest path. Without data it writes nothing, not even dir.
func (c *Collector) WriteGcda(dir string) error {
	if len(c.gcda) == 0 {
		return nil
	}
	return c.gcda.write(dir)
}
