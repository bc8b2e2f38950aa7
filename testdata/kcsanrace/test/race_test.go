// Package test races writes of mmapdrv's first bytes against reads of
// them, from two threads, and checks nothing the reads return. On the
// bundled driver that is no race at all; on the copy whose write() takes
// no lock (../drop-write-lock.sed) it is a data race that no test
// observes, which only a KCSAN kernel's report can show.
package test

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/mmapdrv"
	"github.com/kmodvm/kmodvm/guest/testenv"
)

// raceTime is as long as each of the bundled suite's concurrency tests
// runs (guest/mmapdrv's stressTime): the window KCSAN gets there.
const raceTime = 1500 * time.Millisecond

// span is how many bytes each access covers: a word, so that KCSAN can
// watch the read (it watches no access over two pages) and see its value
// change as well.
const span = 8

func TestUnlockedWriteRacesRead(t *testing.T) {
	testenv.SkipIfNotVM(t)
	d, err := mmapdrv.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var stop atomic.Bool
	var writes, reads atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		b := make([]byte, span)
		for i := uint64(0); !stop.Load(); i++ {
			binary.LittleEndian.PutUint64(b, i)
			if n, err := d.WriteAt(b, 0); err != nil || n != span {
				t.Errorf("pwrite (%d, %v)", n, err)
				return
			}
			writes.Add(1)
		}
	})
	wg.Go(func() {
		b := make([]byte, span)
		for !stop.Load() {
			if n, err := d.ReadAt(b, 0); err != nil || n != span {
				t.Errorf("pread (%d, %v)", n, err)
				return
			}
			reads.Add(1)
		}
	})
	time.Sleep(raceTime)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d writes and %d reads of bytes 0-%d", writes.Load(), reads.Load(), span-1)
	if writes.Load() == 0 || reads.Load() == 0 {
		t.Error("one side never ran: nothing raced")
	}
}
