package dmesg

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameReport compares two findings of one report scanned in two logs:
// everything but where in the log it began.
func sameReport(a, b Finding) bool {
	a.Line, b.Line = 0, 0
	return reflect.DeepEqual(a, b)
}

// Two reports back to back are two findings, each with its own header,
// frames and title: for every two reports of every fixture, the second
// printed right after the first's last line.
func TestReportsBackToBackKeepTheirOwnFrames(t *testing.T) {
	for _, path := range reportLogs(t) {
		var bugs []Finding
		for _, f := range scanFile(t, path) {
			if f.Kind.IsBug() {
				bugs = append(bugs, f)
			}
		}
		for i, a := range bugs {
			for _, b := range bugs[i+1:] {
				got := Scan([]byte(a.Report + "\n" + b.Report + "\n"))
				if len(got) != 2 || !sameReport(got[0], a) || !sameReport(got[1], b) {
					t.Errorf("%s: %q then %q scanned as\n%s", path, a.Title, b.Title, renderFrames(got))
				}
			}
		}
	}
}

// A report cut short (records lost, the console's end in a reset) leaves
// the report after it whole: its own header, frames and title. The cut
// report keeps what came of it.
func TestReportAfterACutReportKeepsItsOwnFrames(t *testing.T) {
	tests := []struct {
		name     string
		a        string // fixture and title of the report cut short
		aTitle   string
		keep     string // in the cut report's last line kept, after its header
		b        string
		bTitle   string
		wantCutA string // the cut report's title
	}{
		{"KASAN cut in its trace, KASAN", "6.1-debug/sanmod.console", "KASAN: slab-out-of-bounds Write in sanmod_ioctl", "sanmod_ioctl+0x37a/0x390 [sanmod]",
			"6.1-debug/sanmod.console", "KASAN: vmalloc-out-of-bounds Write in sanmod_ioctl", "KASAN: slab-out-of-bounds Write in sanmod_ioctl"},
		{"KASAN cut before its trace, KASAN", "6.1-debug/sanmod.console", "KASAN: use-after-free Read in sanmod_ioctl", "Read of size 1 at addr",
			"6.1-debug/sanmod.console", "KASAN: slab-out-of-bounds Write in sanmod_ioctl", "KASAN: use-after-free Read in sanmod_ioctl"},
		{"KASAN cut in its trace, WARNING", "6.1-debug/sanmod.console", "KASAN: slab-out-of-bounds Write in sanmod_ioctl", "sanmod_ioctl+0x37a/0x390 [sanmod]",
			"6.1/warn.console", "WARNING in faultmod_ioctl", "KASAN: slab-out-of-bounds Write in sanmod_ioctl"},
		{"WARNING cut before its trace, WARNING", "6.1/warn.console", "WARNING in faultmod_ioctl", "RIP: 0010:",
			"6.1-debug/sanmod.console", "WARNING in put_timespec64", "WARNING in faultmod_ioctl"},
		{"WARNING cut before its trace, Oops", "6.1/warn.console", "WARNING in faultmod_ioctl", "Hardware name:",
			"6.1/oops.console", "BUG: kernel NULL pointer dereference in faultmod_ioctl", "WARNING in faultmod_ioctl"},
		{"WARNING cut before its trace, KASAN", "6.1/warn.console", "WARNING in faultmod_ioctl", "RIP: 0010:",
			"6.1-debug/sanmod.console", "KASAN: vmalloc-out-of-bounds Write in sanmod_ioctl", "WARNING in faultmod_ioctl"},
		{"Oops cut before its trace, Oops", "6.1/oops.console", "BUG: kernel NULL pointer dereference in faultmod_ioctl", "Oops: ",
			"6.1/oops.console", "BUG: kernel NULL pointer dereference in faultmod_ioctl", "BUG: kernel NULL pointer dereference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := fixtureReport(t, tt.a, tt.aTitle), fixtureReport(t, tt.b, tt.bTitle)
			lines := strings.Split(a.Report, "\n")
			n := 1 // the header names a function too
			for n < len(lines) && !strings.Contains(lines[n], tt.keep) {
				n++
			}
			if n == len(lines) {
				t.Fatalf("%s: %q has no line %q", tt.a, tt.aTitle, tt.keep)
			}
			cut := strings.Join(lines[:n+1], "\n")
			alone := Scan([]byte(cut))
			got := Scan([]byte(cut + "\n" + b.Report + "\n"))
			if len(got) != 2 || len(alone) != 1 || !sameReport(got[0], alone[0]) || got[0].Title != tt.wantCutA || !sameReport(got[1], b) {
				t.Errorf("scanned as\n%s\nwant\n%s%s", renderFrames(got), renderFrames(alone), renderFrames([]Finding{b}))
			}
		})
	}
}

// fixtureReport is the finding titled title in a fixture.
func fixtureReport(t *testing.T, name, title string) Finding {
	t.Helper()
	for _, f := range scanFile(t, filepath.Join("testdata", "report", name)) {
		if f.Title == title {
			return f
		}
	}
	t.Fatalf("%s: no finding %q", name, title)
	return Finding{}
}

// renderFrames prints findings with their frames, for a failure.
func renderFrames(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(render([]Finding{f}))
		for _, fr := range f.Frames {
			b.WriteString("    " + fr.Func + " " + fr.Module + "\n")
		}
	}
	return b.String()
}

// The fixtures made of two of sanmod.console's KASAN reports, the second
// right after the first's end line or after the first cut short in its
// allocation stack, give each finding the frames its report has in
// sanmod.console.
func TestKASANReportsBackToBackInTheFixtures(t *testing.T) {
	for _, name := range []string{"6.1-debug/kasan-back-to-back.console", "6.1-debug/kasan-cut-off.console"} {
		fs := scanFile(t, filepath.Join("testdata", "report", name))
		if len(fs) != 2 {
			t.Fatalf("%s: %d findings, want 2:\n%s", name, len(fs), render(fs))
		}
		for _, f := range fs {
			want := fixtureReport(t, "6.1-debug/sanmod.console", f.Title)
			if !reflect.DeepEqual(f.Frames, want.Frames) || f.Func != want.Func || f.Time != want.Time {
				t.Errorf("%s: %q has\n%s\nwant\n%s", name, f.Title, renderFrames([]Finding{f}), renderFrames([]Finding{want}))
			}
		}
	}
}
