package agent

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
)

// procModules is /proc/modules of a 6.1 guest with the example driver and
// a dependency loaded (addresses as root sees them).
const procModules = `mmapdrv 20480 0 - Live 0xffffffffc0010000 (OE)
crc_itu_t 12288 1 extmod, Live 0xffffffffc0004000
`

func TestFindModuleReadsBaseAndSize(t *testing.T) {
	m := findModule(strings.NewReader(procModules), "mmapdrv")
	if m == nil || m.Base != 0xffffffffc0010000 || m.Size != 20480 {
		t.Fatalf("findModule = %+v", m)
	}
	if !m.Contains(0xffffffffc0012059) || m.Contains(0xffffffffc0015000) || m.Contains(0xffffffffc0004010) {
		t.Errorf("Contains is wrong for %+v", m)
	}
	if findModule(strings.NewReader(procModules), "absent") != nil {
		t.Errorf("found a module that is not loaded")
	}
}

func TestModuleNameFallsBackToTheFile(t *testing.T) {
	for path, want := range map[string]string{"/kmodvm/modules/mmapdrv.ko": "mmapdrv", "/lib/modules/x/crc-itu-t.ko.xz": "crc-itu-t"} {
		if got := moduleName(eventModule(path)); got != want {
			t.Errorf("moduleName(%s) = %s, want %s", path, got, want)
		}
	}
}

func eventModule(path string) event.Module { return event.Module{Path: path} }

func TestParseJiffiesReadsTimerList(t *testing.T) {
	// A real /proc/timer_list (Linux 6.18, two CPUs).
	f, err := os.Open("testdata/timer_list-6.18")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j, err := parseJiffies(f)
	if err != nil || j.Mono != 1776673957402 || j.Jiffies != 4295336372 {
		t.Errorf("parseJiffies = %+v, %v", j, err)
	}
	if _, err := parseJiffies(strings.NewReader("Timer List Version: v0.9\nnow at 5 nsecs\n")); err == nil {
		t.Error("a timer list without jiffies (no CONFIG_TICK_ONESHOT) was read")
	}
}

func TestModuleSymbolsOfAReport(t *testing.T) {
	// Two frames of a real kmemleak report of the 6.1-debug kernel, and
	// /proc/kallsyms' lines of a module ("%px %c %s\t[%s]").
	report := []byte("  backtrace:\n" +
		"    [<0000000016be6a1e>] vmalloc_user+0x8f/0xd0\n" +
		"    [<000000001028f43e>] mmapdrv_write_len_test+0x4d/0x1f0 [mmapdrv_kunit]\n" +
		"    [<00000000fd8e9871>] 0xffffffffa000a05d\n")
	kallsyms := "ffffffff812a3c40 T vmalloc_user\n" +
		"ffffffffa0005010 t mmapdrv_write_len_test\t[mmapdrv_kunit]\n" +
		"ffffffffa0005200 t mmapdrv_mmap_fits_no_wrap_test\t[mmapdrv_kunit]\n" +
		"ffffffffa0000010 t mmapdrv_write_len_test\t[other]\n"
	want := map[string]bool{}
	for _, m := range moduleFrameRe.FindAllSubmatch(report, -1) {
		want[string(m[1])+" "+string(m[2])] = true
	}
	got := findSymbols(strings.NewReader(kallsyms), want)
	if len(got) != 1 || got["mmapdrv_write_len_test [mmapdrv_kunit]"] != 0xffffffffa0005010 {
		t.Errorf("symbols %v (wanted %v)", got, want)
	}
	if syms, err := moduleSymbols([]byte("    [<0000000016be6a1e>] vmalloc_user+0x8f/0xd0\n")); syms != nil || err != nil {
		t.Errorf("a report naming no module's function: %v, %v", syms, err)
	}
}

// A check scans twice, the second starting at least the settle after the
// first started (it reports what was too young for the first), with no
// wait beyond a first scan that lasted that long, and stops at a scan
// that fails.
func TestKmemleakScansTwiceSettleApart(t *testing.T) {
	const settle = 150 * time.Millisecond
	for _, took := range []time.Duration{0, 2 * settle} {
		var at []time.Time
		err := kmemleakScans(func() error {
			at = append(at, time.Now())
			if len(at) == 1 {
				time.Sleep(took)
			}
			return nil
		}, settle)
		if err != nil || len(at) != 2 {
			t.Fatalf("%d scans, %v; want two", len(at), err)
		}
		gap := at[1].Sub(at[0])
		if gap < max(settle, took) {
			t.Errorf("a first scan of %v: the second started %v after it, want at least %v", took, gap, max(settle, took))
		}
		if took > settle && gap > took+settle/2 {
			t.Errorf("a first scan of %v: the second started %v after it, want no wait beyond the scan", took, gap)
		}
	}
	n, failed := 0, errors.New("EBUSY")
	if err := kmemleakScans(func() error { n++; return failed }, settle); !errors.Is(err, failed) || n != 1 {
		t.Errorf("a failing scan: %d scans, %v; want one and its error", n, err)
	}
}
