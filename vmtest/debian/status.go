package debian

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// statusFd is the descriptor apt writes its machine-readable status to:
// the first of exec.Cmd.ExtraFiles.
const statusFd = 3

// aptStatus is apt's status-fd channel for one command: apt writes lines
// such as "dlstatus:2:17.2330:Retrieving file 2 of 3" to it, which say how
// far the whole download is, in percent. Its stdout says it only per file.
type aptStatus struct {
	r, w *os.File
	done chan struct{}
}

// startStatus opens the pipe and reads it, calling fn with each new
// download percentage.
func startStatus(fn func(percent float64)) (*aptStatus, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s := &aptStatus{r: r, w: w, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		readStatus(r, fn)
	}()
	return s, nil
}

// started closes the parent's copy of the write end, so that the reader
// sees the end of the stream when apt exits.
func (s *aptStatus) started() { s.w.Close() }

// wait waits for the reader to drain what apt wrote. A process apt left
// behind could hold the pipe open, so the wait is bounded.
func (s *aptStatus) wait() {
	s.w.Close()
	s.r.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-s.done
	s.r.Close()
}

// readStatus parses apt's status lines and calls fn once per change of the
// download percentage; other lines (pmstatus, media-change) are ignored.
func readStatus(r io.Reader, fn func(percent float64)) {
	sc := bufio.NewScanner(r)
	last := -1.0
	for sc.Scan() {
		p, ok := parseDlstatus(sc.Text())
		if !ok || p == last {
			continue
		}
		last = p
		fn(p)
	}
}

// parseDlstatus returns the percentage of a "dlstatus:item:percent:message"
// line.
func parseDlstatus(line string) (float64, bool) {
	f := strings.SplitN(line, ":", 4)
	if len(f) < 3 || f[0] != "dlstatus" {
		return 0, false
	}
	p, err := strconv.ParseFloat(f[2], 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}
