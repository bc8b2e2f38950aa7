package agent

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
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
	a.drainKmsg()
	a.emit(event.Event{Type: event.Kmemleak, Stage: stage, Msg: string(b)})
}

// loadedModule reads where module name lies: /proc/modules for the base and
// size, /sys/module/<name>/sections for each section (root only).
func loadedModule(name string) *event.LoadedModule {
	name = moddep.Name(name)
	f, err := os.Open("/proc/modules")
	if err != nil {
		return nil
	}
	defer f.Close()
	m := findModule(f, name)
	if m == nil {
		return nil
	}
	dir := filepath.Join("/sys/module", name, "sections")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64); err == nil {
			if m.Sections == nil {
				m.Sections = map[string]uint64{}
			}
			m.Sections[e.Name()] = v
		}
	}
	return m
}

// findModule finds module name in /proc/modules' format.
func findModule(r io.Reader, name string) *event.LoadedModule {
	var m *event.LoadedModule
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// "mmapdrv 16384 0 - Live 0xffffffffc0000000 (OE)"
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[0] != name {
			continue
		}
		size, _ := strconv.ParseUint(fs[1], 10, 64)
		base, _ := strconv.ParseUint(strings.TrimPrefix(fs[5], "0x"), 16, 64)
		m = &event.LoadedModule{Base: base, Size: size}
	}
	return m
}
