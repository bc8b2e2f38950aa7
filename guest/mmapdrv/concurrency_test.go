package mmapdrv

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

// stressTime bounds each concurrency test; TCG guests are slow, so the
// tests count iterations rather than assume a rate.
const stressTime = 1500 * time.Millisecond

// runFor runs each worker in its own goroutine until the deadline or the
// first error, and returns every error.
func runFor(d time.Duration, workers ...func(stop *atomic.Bool) error) []error {
	var stop atomic.Bool
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			if errs[i] = w(&stop); errs[i] != nil {
				stop.Store(true)
			}
		})
	}
	time.AfterFunc(d, func() { stop.Store(true) })
	wg.Wait()
	return errs
}

// Goroutines own disjoint slots of the buffer: some reach theirs through
// pread/pwrite, others through a shared mapping, while another maps and
// unmaps the whole buffer and asks for stats. Every read-back must be what
// that slot's owner stored last.
func TestConcurrentDisjointRanges(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	const slots = 8
	slot := size / slots
	if slot == 0 {
		t.Skip("buffer too small for 8 slots")
	}
	m := mapped(t, d, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	var iters atomic.Int64
	var workers []func(*atomic.Bool) error
	for s := range int64(slots) {
		off := s * slot
		viaMap := s%2 == 1
		workers = append(workers, func(stop *atomic.Bool) error {
			got := make([]byte, slot)
			for i := uint64(0); !stop.Load(); i++ {
				p := pattern(uint64(s)<<32|i, slot)
				if viaMap {
					copy(m[off:off+slot], p)
				} else if n, err := d.WriteAt(p, off); err != nil || int64(n) != slot {
					return fmt.Errorf("slot %d: pwrite (%d, %v)", s, n, err)
				}
				if n, err := d.ReadAt(got, off); err != nil || int64(n) != slot {
					return fmt.Errorf("slot %d: pread (%d, %v)", s, n, err)
				}
				if !bytes.Equal(got, p) {
					return fmt.Errorf("slot %d iteration %d: pread: %s", s, i, firstDiff(got, p))
				}
				if !bytes.Equal(m[off:off+slot], p) {
					return fmt.Errorf("slot %d iteration %d: mapping: %s", s, i, firstDiff(m[off:off+slot], p))
				}
				iters.Add(1)
			}
			return nil
		})
	}
	workers = append(workers, func(stop *atomic.Bool) error {
		for !stop.Load() {
			b, err := d.Map(0, int(size), unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				return err
			}
			_ = b[size-1]
			if err := Unmap(b); err != nil {
				return err
			}
			if _, err := d.Stats(); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range runFor(stressTime, workers...) {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d slot iterations", iters.Load())
}

// read() and write() of the whole buffer, and clear, exclude each other:
// a reader sees one writer's fill or another's, never a mix.
func TestReadNeverSeesTornWrite(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	size := devSize(t, d)
	if err := d.Clear(); err != nil {
		t.Fatal(err)
	}
	writer := func(fillByte byte) func(*atomic.Bool) error {
		return func(stop *atomic.Bool) error {
			p := bytes.Repeat([]byte{fillByte}, int(size))
			for !stop.Load() {
				if n, err := d.WriteAt(p, 0); err != nil || int64(n) != size {
					return fmt.Errorf("pwrite (%d, %v)", n, err)
				}
			}
			return nil
		}
	}
	var reads atomic.Int64
	reader := func(stop *atomic.Bool) error {
		got := make([]byte, size)
		for !stop.Load() {
			if n, err := d.ReadAt(got, 0); err != nil || int64(n) != size {
				return fmt.Errorf("pread (%d, %v)", n, err)
			}
			if c := bytes.Count(got, got[:1]); c != len(got) {
				return fmt.Errorf("torn read: %d of %d bytes are %#x", c, len(got), got[0])
			}
			reads.Add(1)
		}
		return nil
	}
	clearer := func(stop *atomic.Bool) error {
		for !stop.Load() {
			if err := d.Clear(); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	for _, err := range runFor(stressTime, writer(0xaa), writer(0x55), reader, reader, clearer) {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d whole-buffer reads", reads.Load())
}

// gone reports whether err means the device went away with its module.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO)
}

// openMapCloseLoop opens, maps, touches, unmaps and closes the device until
// stopped or until the device is gone.
func openMapCloseLoop(stop *atomic.Bool) error {
	for !stop.Load() {
		d, err := Open()
		if gone(err) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := d.Map(0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		d.Close()
		if err != nil {
			return err
		}
		b[0]++
		if err := Unmap(b); err != nil {
			return err
		}
	}
	return nil
}

// Descriptors and mappings come and go while unloads are attempted: while
// one mapping is held every unload must fail; once it is gone the unload
// must eventually succeed, and nothing may break either way.
func TestOpenMapCloseRacesUnload(t *testing.T) {
	restoreAfter(t)
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	held, err := d.Map(0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(40, pageSize)
	copy(held, want)

	var refused atomic.Int64
	for _, err := range runFor(stressTime, unloadRefused(&refused), openMapCloseLoop, openMapCloseLoop) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The loops increment the first byte.
	if !bytes.Equal(held[1:], want[1:]) {
		t.Error("held mapping changed")
	}
	t.Logf("%d unloads refused while mapped", refused.Load())
	if err := Unmap(held); err != nil {
		t.Fatal(err)
	}

	// Now the unload races only the loops and must win a gap between them.
	for _, err := range runFor(5*time.Second, unloadWins, openMapCloseLoop, openMapCloseLoop) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if testenv.ModuleLoaded(ModuleName) {
		if err := testenv.UnloadModule(ModuleName); err != nil {
			t.Fatalf("unload once the loops stopped: %v", err)
		}
		t.Log("the loops never left a gap for the unload; it succeeded after they stopped")
	}
}

// unloadRefused tries to unload until stopped; every try must fail.
func unloadRefused(refused *atomic.Int64) func(*atomic.Bool) error {
	return func(stop *atomic.Bool) error {
		for !stop.Load() {
			err := testenv.UnloadModule(ModuleName)
			if err == nil {
				return errors.New("module unloaded while a mapping was held")
			}
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) {
				return err
			}
			refused.Add(1)
		}
		return nil
	}
}

// unloadWins tries to unload until it succeeds, then stops every worker.
func unloadWins(stop *atomic.Bool) error {
	for !stop.Load() {
		err := testenv.UnloadModule(ModuleName)
		if err == nil {
			stop.Store(true)
			return nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}
