package dmesg

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report/*.want from the scanner's output (review the diff!)")

// render prints findings in the .want format: "kind | title | module".
func render(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s | %s | %s\n", f.Kind, f.Title, f.Module)
	}
	return b.String()
}

func reportLogs(t *testing.T) []string {
	t.Helper()
	var logs []string
	for _, pat := range []string{"*.console", "*.kmsg"} {
		m, err := filepath.Glob(filepath.Join("testdata", "report", pat))
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, m...)
	}
	if len(logs) == 0 {
		t.Fatal("no fixtures in testdata/report")
	}
	slices.Sort(logs)
	return logs
}

// Every log under testdata/report is a real kernel log (or, for the
// upstream-* files, a report in the upstream kernel's format for a kind
// Debian's kernels cannot produce); LOG.want lists the findings in it.
func TestFixtures(t *testing.T) {
	for _, path := range reportLogs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			log, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := render(Scan(log))
			wantPath := path + ".want"
			if *update {
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test -update and review)", err)
			}
			if got != string(want) {
				t.Errorf("findings differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// A report holds its header and its whole trace, and the streaming Scanner
// finds exactly what Scan finds.
func TestFixtureReports(t *testing.T) {
	for _, path := range reportLogs(t) {
		log, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(log, []byte("\n"))
		fs := Scan(log)
		for _, f := range fs {
			first := strings.TrimRight(string(lines[f.Line]), "\r")
			if !strings.HasPrefix(f.Report, first) {
				t.Errorf("%s: %q: report does not start at line %d %q", path, f.Title, f.Line, first)
			}
			if f.Kind.IsBug() && f.Func != "" && !strings.Contains(f.Report, f.Func) {
				t.Errorf("%s: %q: report does not mention %s", path, f.Title, f.Func)
			}
			if strings.Contains(f.Report, "Call Trace:") && !strings.Contains(f.Report, "</TASK>") &&
				!strings.Contains(f.Report, "</NMI>") {
				t.Errorf("%s: %q: report cut inside its trace:\n%s", path, f.Title, f.Report)
			}
		}
		var s Scanner
		var streamed []Finding
		for _, l := range lines {
			streamed = append(streamed, s.Feed(l)...)
		}
		streamed = append(streamed, s.Flush()...)
		if render(streamed) != render(fs) {
			t.Errorf("%s: streaming found\n%s\nScan found\n%s", path, render(streamed), render(fs))
		}
	}
}
