package agent

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// kmemleakFile is the kernel's leak detector's control and report file.
const kmemleakFile = "/sys/kernel/debug/kmemleak"

// kmemleakSettle is the wait between the two scans of a check. kmemleak
// does not report objects younger than 5 s, and a pointer in flight during
// one scan (a register, a list being moved) is found by the next: leaks
// seen after two scans are real (Documentation/dev-tools/kmemleak.rst; the
// way syzkaller reads it too).
const kmemleakSettle = 5 * time.Second

// kmemleakClear forgets the leaks suspected so far (boot-time ones are the
// kernel's, not the module's), so later reports are about this run.
func (a *Agent) kmemleakClear() bool {
	if _, err := os.Stat(kmemleakFile); err != nil {
		a.logf("kmemleak asked for, but %s is missing: %v", kmemleakFile, err)
		return false
	}
	if err := writeFile(kmemleakFile, "clear"); err != nil {
		a.logf("kmemleak clear: %v", err)
		return false
	}
	return true
}

// kmemleakCheck scans twice and reports what kmemleak suspects, as a
// Kmemleak event of the given stage (an empty report says none).
func (a *Agent) kmemleakCheck(stage string) {
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(kmemleakSettle)
		}
		if err := writeFile(kmemleakFile, "scan"); err != nil {
			a.logf("kmemleak scan: %v", err)
			return
		}
	}
	b, err := os.ReadFile(kmemleakFile)
	if err != nil {
		a.logf("kmemleak read: %v", err)
		return
	}
	j, err := readJiffies()
	if err != nil {
		a.logf("kmemleak: %v", err)
	}
	a.drainKmsg()
	a.emit(event.Event{Type: event.Kmemleak, Stage: stage, Msg: string(b), Jiffies: j})
}

// timerList is where the kernel prints its clocks together: "now at N
// nsecs" (CLOCK_MONOTONIC) and, per CPU, "jiffies: N".
const timerList = "/proc/timer_list"

// readJiffies reads the kernel's jiffies and the monotonic clock at one
// moment, for the host to date kmemleak's objects (which say only the
// jiffies of their allocation).
func readJiffies() (*event.Jiffies, error) {
	f, err := os.Open(timerList)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseJiffies(f)
}

// parseJiffies reads /proc/timer_list's format: the header's "now at"
// line, then the first CPU's "jiffies:" line (every CPU prints the one
// global count).
func parseJiffies(r io.Reader) (*event.Jiffies, error) {
	var j event.Jiffies
	var now bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "now at "); ok && !now {
			n, err := strconv.ParseInt(strings.TrimSuffix(v, " nsecs"), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", timerList, line, err)
			}
			j.Mono, now = n, true
		}
		if v, ok := strings.CutPrefix(line, "jiffies: "); ok && now {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", timerList, line, err)
			}
			j.Jiffies = n
			return &j, nil
		}
	}
	return nil, fmt.Errorf("%s has no \"now at\" and \"jiffies:\" lines (a kernel without CONFIG_TICK_ONESHOT)", timerList)
}
