// Package test races writes of mmapdrv's first bytes against reads of
// them, from two threads, and checks nothing the reads return. On the
// bundled driver that is no race at all; on the copy whose write() takes
// no lock (../drop-write-lock.sed) it is a data race that no test
// observes, which only a KCSAN kernel's report can show.
package test

import (
	"encoding/binary"
	"flag"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kmodvm/kmodvm/guest/mmapdrv"
	"github.com/kmodvm/kmodvm/guest/testenv"
)

var (
	// ops is how many writes and how many reads race: as many as the
	// two threads make in about 1.5 s, the length of each of the bundled
	// suite's concurrency tests, on a 2-core TCG host. A count, not a
	// time, so that a host busy with other work does not shorten the race.
	ops = flag.Int64("ops", 10000, "writes and reads each thread makes at least")
	// span is how many bytes each access covers: more than a word, since
	// KCSAN reports a race on a word only when it sees the word's value
	// change while it watches.
	span = flag.Int("span", 64, "bytes each write and read covers (8 or more)")
)

func TestUnlockedWriteRacesRead(t *testing.T) {
	testenv.SkipIfNotVM(t)
	d, err := mmapdrv.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var writes, reads atomic.Int64
	// Each thread goes on until both made their count: the race lasts
	// as long as they overlap.
	done := func() bool { return writes.Load() >= *ops && reads.Load() >= *ops }
	var failed atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		b := make([]byte, *span)
		for i := uint64(0); !done() && !failed.Load(); i++ {
			binary.LittleEndian.PutUint64(b, i)
			if n, err := d.WriteAt(b, 0); err != nil || n != *span {
				t.Errorf("pwrite (%d, %v)", n, err)
				failed.Store(true)
			}
			writes.Add(1)
		}
	})
	wg.Go(func() {
		b := make([]byte, *span)
		for !done() && !failed.Load() {
			if n, err := d.ReadAt(b, 0); err != nil || n != *span {
				t.Errorf("pread (%d, %v)", n, err)
				failed.Store(true)
			}
			reads.Add(1)
		}
	})
	wg.Wait()
	t.Logf("%d writes and %d reads of bytes 0-%d", writes.Load(), reads.Load(), *span-1)
}
