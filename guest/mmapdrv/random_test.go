package mmapdrv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// randomOps bounds TestRandomOpsMatchModel; MMAPDRV_SEED replays a run.
const randomOps = 3000

// randomRun drives the device and the model with the same random calls.
type randomRun struct {
	t     *testing.T
	rng   *rand.Rand
	model *bufModel
	devs  []*Device
	fds   []*fdModel
	step  int
}

func TestRandomOpsMatchModel(t *testing.T) {
	d := openDev(t, unix.O_RDWR)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MMAPDRV_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (set MMAPDRV_SEED to replay)", seed)
	r := &randomRun{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), model: newModel(devSize(t, d), pageSize)}
	for _, f := range []struct {
		flags  int
		rd, wr bool
	}{{unix.O_RDWR, true, true}, {unix.O_RDONLY, true, false}, {unix.O_WRONLY, false, true}} {
		r.devs = append(r.devs, openDev(t, f.flags))
		r.fds = append(r.fds, &fdModel{readable: f.rd, writable: f.wr})
	}
	if err := d.Clear(); err != nil {
		t.Fatal(err)
	}
	base, err := d.Stats()
	if err != nil {
		t.Fatal(err)
	}
	ops := []func(*Device, *fdModel){r.pread, r.pwrite, r.read, r.write, r.seek, r.mmap, r.ioctl}
	n := randomOps
	if testing.Short() {
		n /= 10
	}
	for r.step = 0; r.step < n && !t.Failed(); r.step++ {
		i := r.rng.IntN(len(r.devs))
		ops[r.rng.IntN(len(ops))](r.devs[i], r.fds[i])
	}
	r.checkStats(d, base)
	if got := contents(t, d); !bytes.Equal(got, r.model.data[:r.model.size]) {
		t.Errorf("final contents: %s", firstDiff(got, r.model.data[:r.model.size]))
	}
}

func (r *randomRun) failf(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("step %d: "+format, append([]any{r.step}, args...)...)
}

// offset picks a position near the interesting places: the start, the end,
// page boundaries, and sometimes far away or negative.
func (r *randomRun) offset() int64 {
	size := r.model.size
	switch r.rng.IntN(10) {
	case 0:
		return size + r.rng.Int64N(16) - 8
	case 1:
		return r.rng.Int64N(pageAlign(size)/pageSize+1)*pageSize + r.rng.Int64N(3) - 1
	case 2:
		return -1 - r.rng.Int64N(1<<20)
	case 3:
		return 1<<62 + r.rng.Int64N(1<<20)
	default:
		return r.rng.Int64N(size + 1)
	}
}

func (r *randomRun) length() int {
	if r.rng.IntN(8) == 0 {
		return 0
	}
	return 1 + r.rng.IntN(int(min(r.model.size, 3*pageSize)))
}

// checkErr compares a system call's error with the model's errno.
func (r *randomRun) checkErr(what string, err error, want unix.Errno) bool {
	r.t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		r.failf("%s: %v", what, err)
		return false
	}
	if got != want {
		r.failf("%s: errno %v, model says %v", what, got, want)
		return false
	}
	return true
}

func (r *randomRun) pread(d *Device, f *fdModel) {
	off, p := r.offset(), make([]byte, r.length())
	n, err := d.ReadAt(p, off)
	wn, we := r.model.read(f, len(p), off)
	what := fmt.Sprintf("pread %d at %d", len(p), off)
	if !r.checkErr(what, err, we) || we != 0 {
		return
	}
	if n != wn {
		r.failf("%s: %d bytes, model says %d", what, n, wn)
	} else if n > 0 && !bytes.Equal(p[:n], r.model.data[off:off+int64(n)]) {
		r.failf("%s: data %s", what, firstDiff(p[:n], r.model.data[off:off+int64(n)]))
	}
}

func (r *randomRun) pwrite(d *Device, f *fdModel) {
	off, p := r.offset(), pattern(r.rng.Uint64(), int64(r.length()))
	n, err := d.WriteAt(p, off)
	wn, we := r.model.write(f, p, off)
	if what := fmt.Sprintf("pwrite %d at %d", len(p), off); r.checkErr(what, err, we) && we == 0 && n != wn {
		r.failf("%s: %d bytes, model says %d", what, n, wn)
	}
}

func (r *randomRun) read(d *Device, f *fdModel) {
	pos, p := f.pos, make([]byte, r.length())
	n, err := d.Read(p)
	wn, we := r.model.read(f, len(p), pos)
	what := fmt.Sprintf("read %d at position %d", len(p), pos)
	f.pos += int64(wn)
	if !r.checkErr(what, err, we) || we != 0 {
		return
	}
	if n != wn {
		r.failf("%s: %d bytes, model says %d", what, n, wn)
	} else if n > 0 && !bytes.Equal(p[:n], r.model.data[pos:pos+int64(n)]) {
		r.failf("%s: data %s", what, firstDiff(p[:n], r.model.data[pos:pos+int64(n)]))
	}
}

func (r *randomRun) write(d *Device, f *fdModel) {
	pos, p := f.pos, pattern(r.rng.Uint64(), int64(r.length()))
	n, err := d.Write(p)
	wn, we := r.model.write(f, p, pos)
	if what := fmt.Sprintf("write %d at position %d", len(p), pos); r.checkErr(what, err, we) && we == 0 && n != wn {
		r.failf("%s: %d bytes, model says %d", what, n, wn)
	}
	f.pos += int64(wn)
}

func (r *randomRun) seek(d *Device, f *fdModel) {
	whence := []int{unix.SEEK_SET, unix.SEEK_CUR, unix.SEEK_END}[r.rng.IntN(3)]
	off := r.offset()
	if whence != unix.SEEK_SET {
		off = r.rng.Int64N(2*r.model.size+3) - r.model.size - 1
	}
	pos, err := d.Seek(off, whence)
	wpos, we := r.model.seek(f, off, whence)
	if what := fmt.Sprintf("lseek %d whence %d", off, whence); r.checkErr(what, err, we) && we == 0 && pos != wpos {
		r.failf("%s: position %d, model says %d", what, pos, wpos)
	}
}

// mmap maps a random range, compares it with the model, stores through it
// and unmaps it; stores through shared mappings reach the model.
func (r *randomRun) mmap(d *Device, f *fdModel) {
	pages := pageAlign(r.model.size) / pageSize
	off := (r.rng.Int64N(pages+2) - 1) * pageSize
	if r.rng.IntN(10) == 0 {
		off += r.rng.Int64N(pageSize)
	}
	length := int(r.rng.Int64N((pages+1)*pageSize + 1))
	prot := []int{unix.PROT_READ, unix.PROT_READ | unix.PROT_WRITE}[r.rng.IntN(2)]
	flags := []int{unix.MAP_SHARED, unix.MAP_PRIVATE}[r.rng.IntN(2)]
	b, err := d.Map(off, length, prot, flags)
	what := fmt.Sprintf("mmap %d at %d prot %d flags %d", length, off, prot, flags)
	if !r.checkErr(what, err, r.model.mmap(f, off, length, prot, flags)) || err != nil {
		if err == nil {
			Unmap(b)
		}
		return
	}
	defer Unmap(b)
	want := r.model.data[off : off+int64(length)]
	if !bytes.Equal(b, want) {
		r.failf("%s: contents %s", what, firstDiff(b, want))
		return
	}
	if prot&unix.PROT_WRITE == 0 || length == 0 {
		return
	}
	at := r.rng.IntN(length)
	p := pattern(r.rng.Uint64(), int64(min(length-at, 64)))
	copy(b[at:], p)
	if flags == unix.MAP_SHARED {
		copy(want[at:], p)
	}
}

// ioctl sends one of the driver's commands or a random one, which must be
// refused with ENOTTY.
func (r *randomRun) ioctl(d *Device, f *fdModel) {
	var arg [64]byte
	cmd := r.rng.Uint32()
	switch r.rng.IntN(4) {
	case 0:
		r.checkErr("clear", d.Clear(), r.model.clear(f))
		return
	case 1:
		if size, err := d.Size(); err != nil || size != r.model.size {
			r.failf("size: (%d, %v), want %d", size, err, r.model.size)
		}
		return
	case 2:
		cmd = IoctlCmd{Dir: r.rng.Uint32N(4), Type: Magic, NR: r.rng.Uint32N(256), Size: r.rng.Uint32N(64)}.Encode()
	}
	if cmd == IoctlGetSize || cmd == IoctlClear || cmd == IoctlGetStats || vfsIoctlTypes[DecodeIoctl(cmd).Type] {
		return
	}
	err := d.Ioctl(cmd, unsafe.Pointer(&arg))
	r.checkErr(fmt.Sprintf("ioctl %#x", cmd), err, unix.ENOTTY)
}

// vfsIoctlTypes are ioctl type bytes the VFS answers before the driver
// (FIOCLEX, FIGETBSZ, FIFREEZE, FS_IOC_*, FICLONE...): random commands of
// these types are not sent.
var vfsIoctlTypes = map[uint32]bool{0x00: true, 'T': true, 'X': true, 'f': true, 0x94: true, 0x15: true}

func (r *randomRun) checkStats(d *Device, base Stats) {
	st, err := d.Stats()
	if err != nil {
		r.t.Fatal(err)
	}
	// contents() below is not counted yet; faults depend on the kernel.
	got := Stats{st.Reads - base.Reads, st.Writes - base.Writes, st.Mmaps - base.Mmaps, 0, st.Clears - base.Clears}
	want := Stats{Reads: r.model.reads, Writes: r.model.writes, Mmaps: r.model.mmaps, Clears: r.model.clears}
	if got != want {
		r.t.Errorf("counter deltas %+v, model says %+v", got, want)
	}
}
