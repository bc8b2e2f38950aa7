package testenv

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Kmsg reads kernel log records written after it was opened, so that a test
// can check what its own actions logged.
type Kmsg struct {
	fd int
}

// OpenKmsg opens /dev/kmsg positioned after the newest record.
func OpenKmsg() (*Kmsg, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("seek /dev/kmsg: %w", err)
	}
	return &Kmsg{fd: fd}, nil
}

// Lines returns the text of every record logged since the last call (or
// since OpenKmsg), oldest first.
func (k *Kmsg) Lines() ([]string, error) {
	var lines []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(k.fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return lines, nil
		case errors.Is(err, unix.EPIPE):
			// Records were overwritten before we read them; go on from
			// the oldest one left.
			continue
		case err != nil:
			return lines, fmt.Errorf("read /dev/kmsg: %w", err)
		}
		// "prefix;text\n" followed by optional " KEY=value" lines.
		rec := string(buf[:n])
		if i := strings.IndexByte(rec, ';'); i >= 0 {
			rec = rec[i+1:]
		}
		if i := strings.IndexByte(rec, '\n'); i >= 0 {
			rec = rec[:i]
		}
		lines = append(lines, rec)
	}
}

// Close releases the reader.
func (k *Kmsg) Close() error {
	if err := unix.Close(k.fd); err != nil {
		return fmt.Errorf("close /dev/kmsg: %w", err)
	}
	return nil
}
