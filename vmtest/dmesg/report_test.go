package dmesg

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
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

// reportLogs lists the logs under testdata/report/<kernel>/.
func reportLogs(t testing.TB) []string {
	t.Helper()
	var logs []string
	err := filepath.WalkDir(filepath.Join("testdata", "report"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".console" || ext == ".kmsg") {
			logs = append(logs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 {
		t.Fatal("no fixtures in testdata/report")
	}
	slices.Sort(logs)
	return logs
}

// Every log under testdata/report/<kernel> is a real kernel log (or, under
// upstream/, a report in the upstream kernel's format for a kind Debian's
// kernels cannot produce); LOG.want lists the findings in it.
func TestFixtures(t *testing.T) {
	for _, path := range reportLogs(t) {
		name, _ := filepath.Rel(filepath.Join("testdata", "report"), path)
		t.Run(name, func(t *testing.T) {
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
			// The line after a report is no frame of its trace.
			if next := f.Line + strings.Count(f.Report, "\n") + 1; next < len(lines) &&
				frameLine.MatchString(parseLine(lines[next]).text) {
				t.Errorf("%s: %q: report cut inside its trace before %q:\n%s", path, f.Title, lines[next], f.Report)
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

// The console and /dev/kmsg of one boot tell the same story: the kmsg
// findings are the console's, or their beginning when the copier lost the
// last records to a reset. The console has user space written between and
// into the kernel's lines; the scanner must see through that.
func TestConsoleAndKmsgAgree(t *testing.T) {
	for _, path := range reportLogs(t) {
		if filepath.Ext(path) != ".console" {
			continue
		}
		kmsgPath := strings.TrimSuffix(path, ".console") + ".kmsg"
		kmsg, err := os.ReadFile(kmsgPath)
		if err != nil {
			continue
		}
		console, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, k := render(Scan(console)), render(Scan(kmsg))
		if !strings.HasPrefix(c, k) {
			t.Errorf("%s: console findings\n%s\ndo not start with the kmsg findings\n%s", path, c, k)
		}
	}
}
