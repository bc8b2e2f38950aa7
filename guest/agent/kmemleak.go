package agent

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// kmemleakFile is the kernel's leak detector's control and report file.
const kmemleakFile = "/sys/kernel/debug/kmemleak"

// kmemleakSettle is the least time from the start of a check's first scan
// to its second. kmemleak
// does not report objects younger than kmemleakMinAge, so the second scan
// reports what the last test allocated just before the first, and a
// pointer in flight during one scan (a register, a list being moved) is
// found by the next: leaks seen after two scans are real
// (Documentation/dev-tools/kmemleak.rst; the way syzkaller reads it too).
const kmemleakSettle = kmemleakMinAge

// kmemleakMinAge is kmemleak's MSECS_MIN_AGE: an object younger than this
// at a scan is not reported by it.
const kmemleakMinAge = 5 * time.Second

// kmemleakClear forgets the leaks kmemleak has reported so far, so later
// reports are about this run. kmemleak_clear greys only objects a scan
// already reported: before kmemleak's own first scan (60 s after boot)
// there are none, and a leak of the boot is reported by the run's checks,
// which the host attributes to the kernel by its allocation time.
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
	if err := kmemleakScans(func() error { return writeFile(kmemleakFile, "scan") }, kmemleakSettle); err != nil {
		a.logf("kmemleak scan: %v", err)
		return
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
	syms, err := moduleSymbols(b)
	if err != nil {
		a.logf("kmemleak: %v", err)
	}
	a.drainKmsg()
	a.emit(event.Event{Type: event.Kmemleak, Stage: stage, Msg: string(b), Jiffies: j, Symbols: syms})
}

// kmemleakScans has kmemleak scan twice through scan (the write of "scan"
// to its file), the second starting at least settle after the first
// started, and stops at the first scan that fails. What must have aged
// settle by the second scan was allocated before the first began, so a
// first scan that takes settle or longer (all of the guest's memory under
// TCG does) is all the wait there is.
func kmemleakScans(scan func() error, settle time.Duration) error {
	start := time.Now()
	if err := scan(); err != nil {
		return err
	}
	time.Sleep(settle - time.Since(start))
	return scan()
}

// moduleFrameRe is a backtrace line naming a module's function:
// "[<000000001028f43e>] mmapdrv_write_len_test+0x4d/0x1f0 [mmapdrv_kunit]".
var moduleFrameRe = regexp.MustCompile(`\] ([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+ (\[[A-Za-z0-9_]+\])`)

// moduleSymbols returns the addresses of the module functions a kmemleak
// report names ("func [module]"), from /proc/kallsyms (real addresses
// for root), or nil if it names none.
func moduleSymbols(report []byte) (map[string]uint64, error) {
	want := map[string]bool{}
	for _, m := range moduleFrameRe.FindAllSubmatch(report, -1) {
		want[string(m[1])+" "+string(m[2])] = true
	}
	if len(want) == 0 {
		return nil, nil
	}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return findSymbols(f, want), nil
}

// findSymbols finds the symbols named in want in /proc/kallsyms' format.
func findSymbols(r io.Reader, want map[string]bool) map[string]uint64 {
	syms := map[string]uint64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// "ffffffffa0010000 t mmapdrv_write_len_test\t[mmapdrv_kunit]"
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 || !want[fs[2]+" "+fs[3]] {
			continue
		}
		if v, err := strconv.ParseUint(fs[0], 16, 64); err == nil && v != 0 {
			syms[fs[2]+" "+fs[3]] = v
		}
	}
	return syms
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
