package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"unicode"
)

// minMarkLen keeps short, generic lines (" <TASK>", "---") from being
// highlighted wherever they appear.
const minMarkLen = 8

// marker finds the log lines that belong to a kernel's findings: the lines
// of each finding's report, timestamps aside, and any line naming a
// finding's title.
type marker struct {
	lines  map[string]string // normalized line -> finding title
	titles []string
}

var timestampRE = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s?`)

func normLine(s string) string { return strings.TrimSpace(timestampRE.ReplaceAllString(s, "")) }

func newMarker(bugs []Finding) *marker {
	m := &marker{lines: map[string]string{}}
	for _, f := range bugs {
		for _, l := range strings.Split(f.Report, "\n") {
			if n := normLine(l); len(n) >= minMarkLen {
				if _, ok := m.lines[n]; !ok {
					m.lines[n] = f.Title
				}
			}
		}
		if len(f.Title) >= minMarkLen {
			m.titles = append(m.titles, f.Title)
		}
	}
	return m
}

func (m *marker) match(line string) (string, bool) {
	if title, ok := m.lines[normLine(line)]; ok {
		return title, true
	}
	for _, t := range m.titles {
		if strings.Contains(line, t) {
			return t, true
		}
	}
	return "", false
}

// testFailure marks the lines of a test's output that say why it failed.
func testFailure(line string) (string, bool) {
	l := strings.TrimSpace(line)
	for _, p := range []string{"--- FAIL", "--- kmodvm:", "panic:"} {
		if strings.HasPrefix(l, p) {
			return "", true
		}
	}
	return "", false
}

func highlightTest(out string) []chunk { return highlight(cleanText(out), testFailure) }

// highlight splits text into runs of lines, marked where match says so.
func highlight(text string, match func(string) (string, bool)) []chunk {
	var out []chunk
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		title, mark := match(strings.TrimSuffix(line, "\n"))
		if n := len(out); n > 0 && out[n-1].Mark == mark && out[n-1].Title == title {
			out[n-1].Text += line
			continue
		}
		out = append(out, chunk{Text: line, Mark: mark, Title: title})
	}
	return out
}

// readLogView embeds the last limit bytes of the log at path, from a line
// start. A log that cannot be read is reported in the page, not as an
// error: the rest of the report is still worth having.
func readLogView(id, label, path string, limit int64, m *marker) logView {
	lv := logView{ID: id, Label: label, Path: path}
	data, skipped, err := readTail(path, limit)
	if errors.Is(err, fs.ErrNotExist) {
		// A merged report names the files of the machines that ran it.
		lv.Err = "not on the machine that wrote this report"
		return lv
	}
	if err != nil {
		lv.Err = err.Error()
		return lv
	}
	if skipped > 0 {
		lv.Note = fmt.Sprintf("the first %d bytes are left out", skipped)
	}
	lv.Chunks = highlight(cleanText(string(data)), m.match)
	for _, c := range lv.Chunks {
		if c.Mark {
			lv.Marks += len(strings.Split(strings.TrimSuffix(c.Text, "\n"), "\n"))
		}
	}
	return lv
}

func readTail(path string, limit int64) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	off := max(0, fi.Size()-limit)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if off > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data, off = data[i+1:], off+int64(i)+1
		}
	}
	return data, off, nil
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// cleanText drops what a console can hold but a page cannot show: invalid
// UTF-8, carriage returns, terminal escapes and other control characters.
func cleanText(s string) string {
	s = ansiRE.ReplaceAllString(strings.ToValidUTF8(s, "\uFFFD"), "")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
