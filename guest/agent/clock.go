package agent

import (
	"errors"
	"fmt"

	"github.com/kmodvm/kmodvm/guest/event"
	"golang.org/x/sys/unix"
)

// kmsgOffset measures how far the kernel log's timestamps (local_clock) are
// from CLOCK_MONOTONIC: it writes a marker record to /dev/kmsg between two
// readings of the monotonic clock and reads back the time the kernel gave
// it. The marker stays in the log ("kmodvm: clock"), harmless.
func kmsgOffset() (int64, error) {
	rd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(rd)
	if _, err := unix.Seek(rd, 0, unix.SEEK_END); err != nil {
		return 0, err
	}
	wr, err := unix.Open("/dev/kmsg", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(wr)
	before := event.Monotonic()
	if _, err := unix.Write(wr, []byte("<7>kmodvm: clock\n")); err != nil {
		return 0, err
	}
	after := event.Monotonic()
	buf := make([]byte, kmsgBuf)
	for i := 0; i < 64; i++ { // skip records that other writers slipped in
		n, err := unix.Read(rd, buf)
		if errors.Is(err, unix.EAGAIN) || n <= 0 {
			break
		}
		rec, ok := parseKmsg(buf[:n])
		if ok && rec.Text == "kmodvm: clock" {
			return rec.Usec*1000 - (before+after)/2, nil
		}
	}
	return 0, fmt.Errorf("kmsg clock marker not read back")
}
