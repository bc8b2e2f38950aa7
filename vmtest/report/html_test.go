package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// The HTML report is checked twice with the same expectations: as written
// (parsed by x/net/html) and as Chromium understood it (--dump-dom), plus a
// screenshot that must show the grid's colours.
//
// testdata/html/report.json is a real run (kmodvm run -m testdata/faultmod
// -t vmtest/report/testdata/faultdemo -k 6.1,7.3 --W1) with its logs, plus
// two kernels written by hand for the outcomes a healthy run lacks: 5.10
// failed to fetch, 6.12 timed out and then panicked (its logs are missing
// on purpose).

var fixtureKernels = []string{"5.10", "6.1.0-57-amd64", "6.12.57+deb13-amd64", "7.3.4+deb13-amd64"}

// wantGrid is the fixture's matrix: row (its label's title, or its text)
// and the status of each kernel's cell.
var wantGrid = []struct {
	row  string
	want []Status
}{
	{"build", []Status{NotRun, Pass, Pass, Pass}},
	{"boot", []Status{NotRun, Pass, Crash, Pass}},
	{"load", []Status{NotRun, Fail, Pass, Fail}},
	{"faultdemo: TestDeviceOpens", []Status{NotRun, Pass, Pass, Pass}},
	{"faultdemo: TestWarnIsCaught", []Status{NotRun, Pass, Timeout, Pass}},
	{"faultdemo: TestLeakedReference", []Status{NotRun, Pass, Crash, Pass}},
	{"faultdemo: TestNewKernelsOnly", []Status{NotRun, Fail, NotRun, Pass}},
	{"faultdemo: TestNewKernelsOnly/uname", []Status{NotRun, Pass, NotRun, Pass}},
	{"faultdemo: TestNewKernelsOnly/major", []Status{NotRun, Fail, NotRun, Pass}},
	{"faultdemo: TestNeedsHardware", []Status{NotRun, Skip, NotRun, Skip}},
	{"findings", []Status{NotRun, Fail, Fail, Fail}},
}

func renderFixture(t *testing.T) []byte {
	t.Helper()
	r, err := ReadFile("testdata/html/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf, HTMLOptions{EmbedLogs: true, Title: "kmodvm: faultdemo"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHTMLGridLinksAndLogsAsWritten(t *testing.T) {
	doc, err := html.Parse(bytes.NewReader(renderFixture(t)))
	if err != nil {
		t.Fatal(err)
	}
	checkReportDOM(t, doc)
}

// TestHTMLInChromium opens the report in Debian's chromium (package
// "chromium"), as a reader would.
func TestHTMLInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium: apt-get install -y chromium)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, renderFixture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	url := "file://" + page
	dom, shotErr := make(chan []byte, 1), make(chan error, 1)
	go func() {
		_, err := chromium(bin, "--screenshot="+shot, "--window-size=1400,900", url)
		shotErr <- err
	}()
	go func() {
		out, err := chromium(bin, "--dump-dom", url)
		if err != nil {
			t.Error(err)
		}
		dom <- out
	}()
	out := <-dom
	if err := <-shotErr; err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	checkReportDOM(t, doc)
	checkScreenshot(t, shot)
}

// chromium runs headless Chromium once, isolated from any profile and
// from the network, and returns what it printed.
func chromium(bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp("", "kmodvm-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("chromium %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// checkScreenshot checks that the page rendered with its style: the grid's
// pass, fail and crash colours fill whole cells of the first screen.
func checkScreenshot(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1400x900", b)
	}
	want := map[string][3]uint32{"pass": {0xcd, 0xeb, 0xd3}, "fail": {0xf8, 0xc9, 0xc4}, "crash": {0x7f, 0x1d, 0x1d}}
	got := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for name, c := range want {
				if r>>8 == c[0] && g>>8 == c[1] && bl>>8 == c[2] {
					got[name]++
				}
			}
		}
	}
	for name := range want {
		if got[name] < 1000 {
			t.Errorf("screenshot has %d pixels of the %s colour, want whole cells of it (did the style apply?)", got[name], name)
		}
	}
}

// checkReportDOM checks the fixture's page: the grid's cells, that every
// link resolves, that nothing is loaded from elsewhere, and that the
// findings are highlighted in the kernel log.
func checkReportDOM(t *testing.T, doc *html.Node) {
	t.Helper()
	ids := map[string]int{}
	var hrefs []string
	walk(doc, func(n *html.Node) {
		if id := attr(n, "id"); id != "" {
			ids[id]++
		}
		if h := attr(n, "href"); h != "" {
			hrefs = append(hrefs, h)
		}
		switch {
		case n.Data == "script" || n.Data == "link" || n.Data == "img" || n.Data == "iframe" || attr(n, "src") != "":
			t.Errorf("the page loads or runs something: <%s>", n.Data)
		case n.Data == "style" && n.FirstChild != nil && strings.Contains(n.FirstChild.Data, "url("):
			t.Errorf("the style loads a resource")
		}
	})
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q is used %d times", id, n)
		}
	}
	for _, h := range hrefs {
		if !strings.HasPrefix(h, "#") || ids[h[1:]] == 0 {
			t.Errorf("link %q does not resolve inside the page", h)
		}
	}
	if len(hrefs) < 40 {
		t.Errorf("only %d links; the grid's cells should link to the tests", len(hrefs))
	}
	checkGrid(t, doc)
	checkWhatFailed(t, doc)
	marks := 0
	walk(find(doc, "details", "id", "k1-6.1.0-57-amd64-dmesg.txt"), func(n *html.Node) {
		if n.Data == "mark" {
			marks++
		}
	})
	if marks < 2 {
		t.Errorf("6.1's kernel log has %d highlighted runs, want its WARNING marked", marks)
	}
}

// checkWhatFailed checks that the page leads with the fixture's failures,
// before the matrix.
func checkWhatFailed(t *testing.T, doc *html.Node) {
	t.Helper()
	var order []string
	var failures []string
	walk(doc, func(n *html.Node) {
		if n.Data == "section" {
			order = append(order, attr(n, "id"))
		}
		if n.Data == "li" && attr(n, "class") == "failure" {
			failures = append(failures, text(find(n, "strong", "", "")))
		}
	})
	if len(order) < 2 || order[0] != "failed" || order[1] != "matrix" {
		t.Errorf("sections %q, want what failed first, then the matrix", order)
	}
	want := []string{"kmodvm error", "TestNewKernelsOnly/major", "TestWarnIsCaught", "TestLeakedReference", "WARNING in faultmod_ioctl", "module faultmod could not be unloaded"}
	if strings.Join(failures, "|") != strings.Join(want, "|") {
		t.Errorf("what failed lists %q, want %q", failures, want)
	}
}

func checkGrid(t *testing.T, doc *html.Node) {
	t.Helper()
	grid := find(doc, "table", "class", "grid")
	if grid == nil {
		t.Fatal("no table.grid")
	}
	var heads []string
	walk(grid, func(n *html.Node) {
		if n.Data == "th" && attr(n, "class") == "kernel" {
			heads = append(heads, text(find(n, "span", "class", "name")))
		}
	})
	if strings.Join(heads, " ") != strings.Join(fixtureKernels, " ") {
		t.Errorf("grid columns %q, want %q", heads, fixtureKernels)
	}
	got := map[string][]Status{}
	var order []string
	walk(grid, func(n *html.Node) {
		if n.Data != "tr" || attr(n, "class") == "pkg" || n.Parent.Data != "tbody" {
			return
		}
		label := find(n, "th", "scope", "row")
		name := attr(label, "title")
		if name == "" {
			name = text(label)
		}
		order = append(order, name)
		walk(n, func(c *html.Node) {
			if c.Data == "td" {
				got[name] = append(got[name], Status(strings.TrimPrefix(attr(c, "class"), "st-")))
			}
		})
	})
	if len(order) != len(wantGrid) {
		t.Errorf("grid rows %q, want %d", order, len(wantGrid))
	}
	for _, w := range wantGrid {
		if fmt.Sprint(got[w.row]) != fmt.Sprint(w.want) {
			t.Errorf("row %s: cells %v, want %v", w.row, got[w.row], w.want)
		}
	}
}

func walk(n *html.Node, f func(*html.Node)) {
	if n == nil {
		return
	}
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// find returns the first element named tag whose attribute key holds the
// word val.
func find(root *html.Node, tag, key, val string) *html.Node {
	var found *html.Node
	walk(root, func(n *html.Node) {
		if found == nil && n.Data == tag && (attr(n, key) == val || strings.Contains(" "+attr(n, key)+" ", " "+val+" ")) {
			found = n
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n == nil {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return strings.TrimSpace(b.String())
}

func TestHTMLEscapesWhatTheKernelAndTestsPrint(t *testing.T) {
	evil := `</pre><script>alert(1)</script><img src=x onerror=alert(2)>"'&`
	r := &Report{Kernels: []*Kernel{{Name: evil, Status: Fail, Error: evil,
		Boot:     &Boot{Status: Pass, Hang: evil},
		Modules:  []Module{{Name: evil, Params: evil, Load: Fail, Error: evil}},
		Tests:    []*Test{{Package: evil, Name: evil + "/" + evil, Status: Fail, Output: evil + "\n--- FAIL: " + evil, Findings: []int{0}}},
		Findings: []Finding{{Kind: evil, Title: evil, Report: evil, Test: evil}},
	}}}
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf, HTMLOptions{Title: evil}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(buf.String(), bad) {
			t.Errorf("the page contains %q unescaped", bad)
		}
	}
	doc, err := html.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(find(doc, "title", "", "")); got != evil {
		t.Errorf("title reads %q, want %q", got, evil)
	}
	if got := text(find(doc, "pre", "class", "error")); got != evil {
		t.Errorf("the kernel's error reads %q, want %q", got, evil)
	}
}

func TestHTMLEmbedsTheEndOfLongLogs(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	for i := range 200 {
		fmt.Fprintf(&log, "[    %d.000000] line %03d of the boot\n", i, i)
	}
	log.WriteString("[  200.000000] WARNING: CPU: 0 PID: 83 at drv.c:168 drv_ioctl+0x1f0/0x3e2 [drv]\n[  200.100000] after\n")
	path := filepath.Join(dir, "dmesg.txt")
	if err := os.WriteFile(path, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &Kernel{Name: "6.1", Status: Fail, Files: map[string]string{"dmesg.txt": path, "console.log": filepath.Join(dir, "missing")},
		Findings: []Finding{{Kind: "WARNING", Title: "WARNING in drv_ioctl", Report: "[  200.000000] WARNING: CPU: 0 PID: 83 at drv.c:168 drv_ioctl+0x1f0/0x3e2 [drv]"}}}
	kv := newKernelView(0, k, nil, HTMLOptions{EmbedLogs: true, MaxLogBytes: 1000}, 1)
	if len(kv.Logs) != 2 {
		t.Fatalf("%d logs embedded, want console (unreadable) and kernel log", len(kv.Logs))
	}
	console, dmesg := kv.Logs[0], kv.Logs[1]
	if console.Err == "" || len(console.Chunks) != 0 {
		t.Errorf("missing console: %+v, want its error and no text", console)
	}
	var all strings.Builder
	for _, c := range dmesg.Chunks {
		all.WriteString(c.Text)
	}
	if all.Len() > 1000 || !strings.HasPrefix(all.String(), "[") || !strings.HasSuffix(all.String(), "after\n") {
		t.Errorf("embedded %d bytes from %.20q to the end, want at most 1000 from a line start", all.Len(), all.String())
	}
	if want := fmt.Sprintf("the first %d bytes are left out", log.Len()-all.Len()); dmesg.Note != want {
		t.Errorf("note %q, want %q", dmesg.Note, want)
	}
	if dmesg.Marks != 1 || len(dmesg.Chunks) != 3 || !dmesg.Chunks[1].Mark || dmesg.Chunks[1].Title != "WARNING in drv_ioctl" {
		t.Errorf("marked %d lines in %d chunks (%+v), want the WARNING line alone", dmesg.Marks, len(dmesg.Chunks), dmesg.Chunks)
	}
}

func TestMarkerMatchesReportLinesAndTitles(t *testing.T) {
	m := newMarker([]Finding{{Title: "BUG: unable to handle page fault in drv_read", Report: "[    9.1] BUG: unable to handle page fault for address: 0000000000001000\n[    9.2]  <TASK>\n[    9.3]  drv_read+0x1/0x2 [drv]"}})
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"[    9.100000] BUG: unable to handle page fault for address: 0000000000001000", true},
		{"[   12.000000]  drv_read+0x1/0x2 [drv]", true},
		{"BUG: unable to handle page fault in drv_read (from the summary)", true},
		{"[   12.000000]  <TASK>", false}, // too generic to mark
		{"[    9.100000] BUG: unable to handle page fault for address: 0000000000002000", false},
	} {
		if _, got := m.match(tc.line); got != tc.want {
			t.Errorf("match(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestTimingBarIsProportional(t *testing.T) {
	for _, tc := range []struct {
		name  string
		t     Timing
		max   float64
		width float64
		segs  string
	}{
		{"whole", Timing{Fetch: 1, Build: 2, Image: 1, Boot: 2, Tests: 4, Total: 10}, 10, 100, "fetch:10 build:20 image:10 boot:20 tests:40"},
		{"unaccounted time", Timing{Build: 5, Tests: 5, Total: 20}, 40, 50, "build:25 tests:25 other:50"},
		{"fetch failed", Timing{Fetch: 1, Total: 1}, 4, 25, "fetch:100"},
		{"no time", Timing{}, 4, 0, ""},
	} {
		segs, width := timingBar(tc.t, tc.max)
		var got []string
		for _, s := range segs {
			got = append(got, fmt.Sprintf("%s:%g", s.Phase, s.Pct))
		}
		if width != tc.width || strings.Join(got, " ") != tc.segs {
			t.Errorf("%s: width %g, segments %q; want %g, %q", tc.name, width, got, tc.width, tc.segs)
		}
	}
}
