package agent

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
)

// gcovDir is where a kernel with CONFIG_GCOV_KERNEL keeps the counters of
// code built with gcov profiling: <gcovDir>/<build dir>/<object>.gcda,
// the build directory being the absolute one the compiler recorded.
const gcovDir = "/sys/kernel/debug/gcov"

// gcovReport sends every .gcda file under root/<dir> for each of dirs as
// Gcov events of the given stage, in MaxChunk pieces. The files are seq
// files that the kernel writes out as they are read: plain reads to the
// end, never a copy by size.
func (a *Agent) gcovReport(root string, dirs []string, stage string) {
	if len(dirs) == 0 {
		return
	}
	a.drainKmsg()
	for _, d := range dirs {
		base := filepath.Join(root, d)
		var files []string
		err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() && strings.HasSuffix(p, ".gcda") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			a.logf("gcov %s (%s): %v", d, stage, err)
			continue
		}
		if len(files) == 0 {
			a.logf("gcov %s (%s): no .gcda files: was the module built with gcov profiling?", d, stage)
		}
		sort.Strings(files)
		for _, p := range files {
			b, err := readAll(p)
			if err != nil {
				a.logf("gcov %s: %v", p, err)
				continue
			}
			a.sendFile(event.Gcov, stage, strings.TrimPrefix(p, filepath.Clean(root)), b)
		}
	}
}

// sendFile sends b as events of type typ, one chunk each; an empty file
// is one empty chunk, so the host knows it was there.
func (a *Agent) sendFile(typ event.Type, stage, path string, b []byte) {
	size := int64(len(b))
	for off := int64(0); off == 0 || off < size; off += event.MaxChunk {
		end := min(off+event.MaxChunk, size)
		a.emit(event.Event{Type: typ, Stage: stage, Chunk: &event.FileChunk{Path: path, Offset: off, Size: size, Data: b[off:end]}})
	}
}
