package initramfs

import (
	"errors"
	"io"
	"os"
	"sort"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// layerRecord is one archive entry with its content read.
type layerRecord struct {
	cpio.Info
	Data []byte
}

// readLayer reads every archive in a (possibly concatenated) cpio file; a
// later entry of the same name replaces an earlier one, as in the kernel.
func readLayer(t testing.TB, path string) map[string]layerRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	recs := map[string]layerRecord{}
	var off int64
	for off < fi.Size() {
		// Unwrapped, the reader returns the trailer instead of io.EOF: its
		// end is where the next archive starts.
		rr := cpio.Newc.Reader(io.NewSectionReader(f, off, fi.Size()-off)).(cpio.EOFReader).RecordReader
		var last cpio.Record
		for {
			r, err := rr.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read %s at %d: %v", path, off, err)
			}
			last = r
			if r.Name == cpio.Trailer {
				break
			}
			data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			recs[r.Name] = layerRecord{r.Info, data}
		}
		if last.Name != cpio.Trailer {
			t.Fatalf("archive at %d in %s has no trailer", off, path)
		}
		off += (last.FilePos + 3) &^ 3
		// Some writers pad archives to 512 bytes: skip the zeros.
		for off < fi.Size() {
			var b [1]byte
			if _, err := f.ReadAt(b[:], off); err != nil || b[0] != 0 {
				break
			}
			off++
		}
	}
	return recs
}

func names(recs map[string]layerRecord) []string {
	var n []string
	for k := range recs {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
