package agent

import (
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/kmodvm/kmodvm/guest/event"
)

// kunitDir holds a directory per KUnit suite the kernel knows
// (CONFIG_KUNIT_DEBUGFS); a module's suites appear when it loads and go
// when it unloads.
const kunitDir = "/sys/kernel/debug/kunit"

// kunitSuites lists the suites under dir, or nil when there is no such
// directory (no KUnit debugfs: the host reads the kernel log's KTAP).
func kunitSuites(dir string) map[string]bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	suites := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() {
			suites[e.Name()] = true
		}
	}
	return suites
}

// kunitReport sends the results of every suite in dir that was not there
// before the modules were loaded, one KUnit event each, in name order.
func (a *Agent) kunitReport(dir string, before map[string]bool) {
	if before == nil {
		return
	}
	after := kunitSuites(dir)
	var added []string
	for s := range after {
		if !before[s] {
			added = append(added, s)
		}
	}
	sort.Strings(added)
	a.drainKmsg()
	for _, s := range added {
		// A seq file: read it with plain reads to the end.
		b, err := readAll(filepath.Join(dir, s, "results"))
		if err != nil {
			a.logf("kunit %s: %v", s, err)
			continue
		}
		a.emit(event.Event{Type: event.KUnit, Suite: s, Msg: string(b)})
	}
}

func readAll(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
