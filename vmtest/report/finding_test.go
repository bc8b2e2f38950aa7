package report

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/dmesg"
)

// A finding's headline says its kind once: the title alone when it
// already names the kind, as the kernel's reports do, the kind before it
// when it does not.
func TestHeadlineSaysTheKindOnce(t *testing.T) {
	tests := []struct{ kind, title, want string }{
		{"BUG", "BUG: Bad page map in process mmapdrv.test", "BUG: Bad page map in process mmapdrv.test"},
		{"BUG", "kernel BUG in mmapdrv_ioctl", "kernel BUG in mmapdrv_ioctl"},
		{"KASAN", "KASAN: vmalloc-out-of-bounds Write in mmapdrv_write", "KASAN: vmalloc-out-of-bounds Write in mmapdrv_write"},
		{"WARNING", "WARNING in mmapdrv_mmap", "WARNING in mmapdrv_mmap"},
		{"Oops", "BUG: kernel NULL pointer dereference in f", "BUG: kernel NULL pointer dereference in f"},
		{"Oops", "Oops in f", "Oops in f"},
		{"sleep in atomic context", "BUG: scheduling while atomic in f", "BUG: scheduling while atomic in f"},
		{"hung task", "INFO: task hung in f", "INFO: task hung in f"},
		{"list corruption", "list_add corruption in f", "list_add corruption in f"},
		{"refcount", "refcount_t: addition on 0; use-after-free in f", "refcount_t: addition on 0; use-after-free in f"},
		{"lockdep", "possible deadlock in f", "lockdep: possible deadlock in f"},
		{"lockdep", "inconsistent lock state in f", "lockdep: inconsistent lock state in f"},
		{"taint", "mmapdrv: loading out-of-tree module taints kernel", "mmapdrv: loading out-of-tree module taints kernel"},
		{"unload", "module mmapdrv could not be unloaded", "module mmapdrv could not be unloaded"},
		{"kernel log lost", "3 kernel log records lost (...)", "3 kernel log records lost (...)"},
		{"", "untitled kind", "untitled kind"},
	}
	for _, tt := range tests {
		if got := (Finding{Kind: tt.kind, Title: tt.title}).Headline(); got != tt.want {
			t.Errorf("Headline(%q, %q) = %q, want %q", tt.kind, tt.title, got, tt.want)
		}
	}
}

// No report in the scanner's fixtures (every pattern's, real logs and
// composed ones) gets its kind twice in its headline.
func TestNoHeadlineOfTheFixturesDoublesItsKind(t *testing.T) {
	root := filepath.Join("..", "dmesg", "testdata", "report")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".console" && filepath.Ext(path) != ".kmsg") {
			return err
		}
		log, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, f := range dmesg.Scan(log) {
			n++
			kind := string(f.Kind)
			h := Finding{Kind: kind, Title: f.Title}.Headline()
			rest, prefixed := strings.CutPrefix(h, kind+": ")
			if prefixed && (titleTag.MatchString(rest) || strings.HasPrefix(strings.ToLower(rest), strings.ToLower(kind))) {
				t.Errorf("%s: headline %q says its kind twice", path, h)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no findings in %s", root)
	}
}

// A finding's source line is the module's faulting instruction, else the
// handler the report names, else the innermost module frame of its trace.
func TestSourcePrefersThePCThenTheHandler(t *testing.T) {
	pc := &Frame{Func: "mmapdrv_ioctl", Module: "mmapdrv", File: "mmapdrv.c", Line: 90}
	handler := &Frame{Func: "mmapdrv_fault", Module: "mmapdrv", File: "mmapdrv.c", Line: 171}
	frames := []Frame{{Func: "zap_pte_range"}, {Func: "mmapdrv_write", Module: "mmapdrv", File: "mmapdrv.c", Line: 116}}
	for _, c := range []struct {
		f    Finding
		want int
	}{
		{Finding{PC: pc, Handler: handler, Frames: frames}, 90},
		{Finding{Handler: handler, Frames: frames}, 171},
		{Finding{Handler: &Frame{Func: "mmapdrv_fault", Module: "mmapdrv"}, Frames: frames}, 116},
		{Finding{Frames: frames}, 116},
	} {
		if fr, ok := c.f.Source(); !ok || fr.Line != c.want {
			t.Errorf("%+v: source %s %s, want line %d", c.f, fr, fr.Where(), c.want)
		}
	}
}
