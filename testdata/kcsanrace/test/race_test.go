// Package test races writes of mmapdrv's first bytes against reads of
// them, from two threads, and checks nothing the reads return. On the
// bundled driver that is no race at all; on the copy whose write() takes
// no lock (../drop-write-lock.sed) it is a data race that no test
// observes, which only a KCSAN kernel's report can show.
package test

import (
	"encoding/binary"
	"flag"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/mmapdrv"
	"github.com/kmodvm/kmodvm/guest/testenv"
)

var (
	// ops is how many writes and how many reads race at least: about
	// as many as the two threads make in the 1.5 s of each of the bundled
	// suite's concurrency tests on a 2-core TCG host. A count, not a
	// time, so that a host busy with other work does not shorten it.
	ops = flag.Int64("ops", 10000, "writes and reads each thread makes at least")
	// maxOps bounds the race when KCSAN has not reported it by then.
	// KCSAN samples (docs/kernels.md): a race is reported in most runs
	// of ops, not all, so the race goes on, up to maxOps, until the
	// kernel log has a KCSAN report. The test reads the log only to
	// stop; it checks nothing: the report is kmodvm's to find.
	maxOps = flag.Int64("max-ops", 200000, "writes and reads each thread makes at most, when KCSAN reports nothing")
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
	k, err := testenv.OpenKmsg()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var writes, reads atomic.Int64
	var reported, failed atomic.Bool
	both := func(n int64) bool { return writes.Load() >= n && reads.Load() >= n }
	// Each thread goes on until both made their count: the race lasts
	// as long as they overlap.
	done := func() bool { return failed.Load() || both(*maxOps) || (reported.Load() && both(*ops)) }
	var wg sync.WaitGroup
	wg.Go(func() {
		// A KCSAN report with the driver in a stack: the kernel's own
		// races (do_nanosleep / hrtimer_wakeup) do not stop the race.
		inReport := false
		for !done() {
			lines, err := k.Lines()
			if err != nil {
				t.Error(err)
				failed.Store(true)
			}
			for _, l := range lines {
				switch {
				case strings.Contains(l, "BUG: KCSAN: "):
					inReport = true
				case strings.HasPrefix(l, "=========="):
					inReport = false
				case inReport && strings.Contains(l, "["+mmapdrv.ModuleName+"]"):
					reported.Store(true)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	wg.Go(func() {
		b := make([]byte, *span)
		for i := uint64(0); !done(); i++ {
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
		for !done() {
			if n, err := d.ReadAt(b, 0); err != nil || n != *span {
				t.Errorf("pread (%d, %v)", n, err)
				failed.Store(true)
			}
			reads.Add(1)
		}
	})
	wg.Wait()
	t.Logf("%d writes and %d reads of bytes 0-%d; a KCSAN report in the log: %v", writes.Load(), reads.Load(), *span-1, reported.Load())
}
