package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// freshen makes a guest restored from a saved state unlike every other
// guest restored from it. Without it each would draw the same random
// numbers (the kernel's generator is keyed by the saved state until its
// next reseed, up to a minute later) and read the saving moment's time.
// The seed is credited (RNDADDENTROPY) and the generator reseeded from the
// pool at once (RNDRESEEDCRNG, since 4.17); writing to /dev/urandom alone
// would mix it in without either. A reseed that succeeded is noted in the
// kernel log (reseededNote): the kernel keeps no trace of its reseeds.
func freshen(seed []byte, now int64) error {
	var errs []error
	if len(seed) > 0 {
		err := reseed(seed)
		if err == nil {
			noteReseed(len(seed))
		}
		errs = append(errs, err)
	}
	if now > 0 {
		tv := unix.NsecToTimeval(now)
		if err := unix.Settimeofday(&tv); err != nil {
			errs = append(errs, fmt.Errorf("set the clock: %w", err))
		}
	}
	return errors.Join(errs...)
}

func reseed(seed []byte) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("reseed: %w", err)
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.NativeEndian.PutUint32(info[0:], uint32(len(seed)*8))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return fmt.Errorf("reseed: RNDADDENTROPY: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDRESEEDCRNG, 0); e != 0 {
		return fmt.Errorf("reseed: RNDRESEEDCRNG: %w", e)
	}
	return nil
}

// reseededNote is the kernel log record of a reseed from n host bytes.
const reseededNote = "kmodvm: fresh: generator reseeded from %d host bytes"

// noteReseed writes reseededNote to the kernel log, below the console's
// level. It is a note only: a guest whose log refuses it is as fresh.
func noteReseed(n int) {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "<6>"+reseededNote+"\n", n)
}
