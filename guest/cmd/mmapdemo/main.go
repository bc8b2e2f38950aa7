// Command mmapdemo is the lecture's user program for the mmapdrv driver: it
// asks the driver for its buffer size, maps the buffer, modifies the data
// through the mapping and checks that read() returns the same bytes. The
// kernel log then shows "drv_read: read nbytes=<size> done at pos=<size>".
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/kmodvm/kmodvm/guest/mmapdrv"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mmapdemo:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	dev, err := mmapdrv.Open()
	if err != nil {
		return err
	}
	defer dev.Close()

	size, err := dev.Size()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "driver max buffer size=%d\n", size)

	buf, err := dev.Map(0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer mmapdrv.Unmap(buf)
	fmt.Fprintf(w, "mmap driver buffer succeeded: %p\n", &buf[0])

	for i := range buf {
		buf[i] = byte(i*7 + 3)
	}
	// One read() of the whole buffer from offset 0, as in the lecture.
	got := make([]byte, size)
	n, err := dev.Read(got)
	if err != nil {
		return err
	}
	if int64(n) != size || !bytes.Equal(got[:n], buf) {
		return fmt.Errorf("read returned %d bytes that differ from the mapping", n)
	}
	fmt.Fprintln(w, "data modify and compare successful")
	return nil
}
