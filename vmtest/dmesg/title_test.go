package dmesg

import (
	"os"
	"strings"
	"testing"
)

// A title names the bug, not the occurrence: the values a header prints
// (page table entries, pfns, pointers) stay out of it, so that every
// report of one bug has the same title. Lines that stand alone end at once
// and leave the next report its own.
func TestTitlesLeaveTheValuesOut(t *testing.T) {
	trace := "Call Trace:\n <TASK>\n dump_stack_lvl+0x44/0x5c\n mmapdrv_release+0x2a/0x60 [mmapdrv]\n </TASK>\n"
	tests := []struct {
		name, log string
		want      []string // "title | func | module"
	}{
		{"bad page map", "BUG: Bad page map in process mmapdrv.test  pte:8000000004a3b025 pmd:05d8a067\n" +
			"file:mmapdrv fault:0x0 mmap:mmapdrv_mmap [mmapdrv] read_folio:0x0\n" + trace,
			[]string{"BUG: Bad page map in process mmapdrv.test | mmapdrv_mmap | mmapdrv"}},
		{"bad page map, a process name with a space", "BUG: Bad page map in process kworker 1  pte:00000000 pmd:00000000\n" + trace,
			[]string{"BUG: Bad page map in process kworker 1 | mmapdrv_release | mmapdrv"}},
		{"bad page map of a mapping that is no module's", "BUG: Bad page map in process cat  pte:8000000004a3b025 pmd:05d8a067\n" +
			"file:libc.so.6 fault:filemap_fault mmap:ext4_file_mmap [ext4] read_folio:ext4_read_folio [ext4]\n" +
			"Call Trace:\n dump_stack_lvl+0x44/0x5c\n print_bad_pte.cold+0x6a/0xc5\n zap_pte_range+0x45d/0x840\n unmap_page_range+0x2b5/0x440\n",
			[]string{"BUG: Bad page map in process cat | ext4_file_mmap | ext4"}},
		{"bad page state", "BUG: Bad page state in process mmapdrv.test  pfn:04a3b\n" +
			"page dumped because: nonzero mapcount\nModules linked in: mmapdrv(OE)\n" +
			"Call Trace:\n dump_stack_lvl+0x44/0x5c\n bad_page.cold+0x63/0x94\n free_pages_prepare+0x2f6/0x4a0\n free_unref_page+0x1d/0x130\n mmapdrv_release+0x2a/0x60 [mmapdrv]\n",
			[]string{"BUG: Bad page state in process mmapdrv.test | mmapdrv_release | mmapdrv"}},
		{"the ratelimit's count stands alone", "BUG: Bad page map: 12 messages suppressed\n" +
			"BUG: Bad page map in process mmapdrv.test  pte:8000000004a3b025 pmd:05d8a067\n" + trace,
			[]string{"BUG: Bad page map: messages suppressed |  | ", "BUG: Bad page map in process mmapdrv.test | mmapdrv_release | mmapdrv"}},
		{"an exit's counters stand alone", "BUG: Bad rss-counter state mm:00000000a9f3c1d2 type:MM_FILEPAGES val:-3\n" +
			"BUG: Bad rss-counter state mm:00000000a9f3c1d2 type:MM_SHMEMPAGES val:1\n",
			[]string{"BUG: Bad rss-counter state |  | ", "BUG: Bad rss-counter state |  | "}},
		{"a BUG no pattern knows, with a value", "BUG: non-zero pgtables_bytes on freeing mm: 4096\n",
			[]string{"BUG: non-zero pgtables_bytes on freeing mm |  | "}},
		{"a BUG no pattern knows, with key:value pairs", "BUG: Bad thing in process x  pfn:04a3b order:0\n" + trace,
			[]string{"BUG: Bad thing in process x in mmapdrv_release | mmapdrv_release | mmapdrv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range Scan([]byte(tt.log)) {
				got = append(got, f.Title+" | "+f.Func+" | "+f.Module)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Every report in the fixtures gets a title that does not depend on the
// occurrence: no hex value of 8 digits or more (an address, a pte) and no
// pid.
func TestFixtureTitlesHaveNoValues(t *testing.T) {
	for _, path := range reportLogs(t) {
		for _, f := range scanFile(t, path) {
			if !f.Kind.IsBug() {
				continue
			}
			if hexValue.MatchString(f.Title) || strings.Contains(f.Title, "PID") || strings.Contains(f.Title, "pid") {
				t.Errorf("%s: title %q holds a value of the occurrence", path, f.Title)
			}
		}
	}
}

var hexValue = re(`[0-9a-f]{8,}`)

func scanFile(t *testing.T, path string) []Finding {
	t.Helper()
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Scan(log)
}

// A fault in the string library is its caller's: a KASAN report in the
// memset the module called is titled after the module's function.
func TestLibraryFunctionsAreNotGuilty(t *testing.T) {
	log := `==================================================================
BUG: KASAN: vmalloc-out-of-bounds in memset+0x1f/0x40
Write of size 8192 at addr ffffc90000335000 by task mmapdrv.test/97

CPU: 0 PID: 97 Comm: mmapdrv.test Tainted: G    B      OE      6.1.192-debug #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x51/0x66
 print_report+0x162/0x460
 kasan_report+0xe9/0x190
 kasan_check_range+0x10e/0x1c0
 memset+0x1f/0x40
 mmapdrv_write+0x6b/0xc0 [mmapdrv]
 vfs_write+0x1a3/0x6c0
 </TASK>
==================================================================
`
	fs := Scan([]byte(log))
	if len(fs) != 1 || fs[0].Title != "KASAN: vmalloc-out-of-bounds Write in mmapdrv_write" || fs[0].Module != "mmapdrv" {
		t.Fatalf("got %s", render(fs))
	}
}

// A bad page report names the mapping's handler as its Handler: the code
// that handed out the page, which its trace (the unmap that found it) does
// not show; a report of a mapping that is no module's names none.
func TestBadPageReportsNameTheMappingsHandler(t *testing.T) {
	trace := "Call Trace:\n dump_stack_lvl+0x44/0x5c\n print_bad_pte.cold+0x6a/0xc5\n zap_pte_range+0x45d/0x840\n mmapdrv_write+0x95/0x100 [mmapdrv]\n"
	for _, c := range []struct{ vma, want string }{
		{"file:mmapdrv fault:mmapdrv_fault [mmapdrv] mmap:mmapdrv_mmap [mmapdrv] read_folio:0x0\n", "mmapdrv_fault [mmapdrv]"},
		{"file:mmapdrv fault:0x0 mmap:mmapdrv_mmap [mmapdrv] read_folio:0x0\n", "mmapdrv_mmap [mmapdrv]"},
		{"file:(null) fault:0x0 mmap:0x0 read_folio:0x0\n", " []"},
	} {
		fs := Scan([]byte("BUG: Bad page map in process mmapdrv.test  pte:8000000004a3b025 pmd:05d8a067\n" + c.vma + trace))
		if len(fs) != 1 {
			t.Fatalf("%d findings", len(fs))
		}
		if got := fs[0].Handler.Func + " [" + fs[0].Handler.Module + "]"; got != c.want {
			t.Errorf("%q: handler %q, want %q", c.vma, got, c.want)
		}
	}
}
