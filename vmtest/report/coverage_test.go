package report

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"golang.org/x/net/html"
)

// testdata/coverage/report.json is a real run's report, trimmed to its
// coverage (kmodvm run --kernels 6.1-debug --coverage, the bundled driver
// and its whole suite), and testdata/coverage/kmod/ the driver's sources
// as that run built them.
func coverageFixture(t *testing.T) *Report {
	t.Helper()
	r, err := ReadFile(filepath.Join("testdata", "coverage", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", "coverage"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.Kernels {
		for i := range k.Coverage {
			_, rel, _ := strings.Cut(k.Coverage[i].Path, "/kmod/")
			k.Coverage[i].Path = filepath.Join(src, "kmod", rel)
		}
	}
	return r
}

func TestCoverageMarkdownListsFilesPerKernel(t *testing.T) {
	r := coverageFixture(t)
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	rows, total := r.Kernels[0].CoverageRows()
	if len(rows) == 0 || total.Lines == 0 {
		t.Fatalf("fixture has no coverage")
	}
	for _, row := range rows {
		line := "| `" + row.Name + "` | " + CoverageCell(row.Summary) + " |"
		if !strings.Contains(b.String(), line) {
			t.Errorf("markdown lacks %q:\n%s", line, b.String())
		}
	}
	if !strings.Contains(b.String(), "| **all** | **"+CoverageCell(total)) {
		t.Errorf("markdown lacks the total %s", CoverageCell(total))
	}
}

// Every instrumented line of the driver's source is marked with its state
// in the page, as written and as Chromium reads it, and the marks show in
// their colours on a screenshot of the source.
func TestCoverageSourceIsMarkedLineByLine(t *testing.T) {
	r := coverageFixture(t)
	var page bytes.Buffer
	if err := r.WriteHTML(&page, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	drv := driverCoverage(t, r)
	checkCoverageMarks(t, doc, drv)

	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian package chromium)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := chromium(bin, "--dump-dom", "file://"+path)
	if err != nil {
		t.Fatal(err)
	}
	if doc, err = html.Parse(bytes.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	checkCoverageMarks(t, doc, drv)

	// Headless Chromium does not scroll a screenshot to a fragment: a
	// tall window shows the first sources.
	shot := filepath.Join(dir, "cov.png")
	if _, err := chromium(bin, "--screenshot="+shot, "--window-size=1200,3000", "file://"+path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	colours := map[coverage.State][3]uint32{coverage.Hit: {0xd7, 0xf5, 0xdd}, coverage.Partial: {0xfd, 0xf0, 0xb8}}
	got := map[coverage.State]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			for s, c := range colours {
				if cr>>8 == c[0] && cg>>8 == c[1] && cb>>8 == c[2] {
					got[s]++
				}
			}
		}
	}
	if got[coverage.Hit] < 100000 || got[coverage.Partial] == 0 {
		t.Errorf("screenshot of the sources: %v pixels of the line colours, want whole lines of run and partly run ones", got)
	}
	t.Logf("screenshot %s: %v", shot, got)
}

func driverCoverage(t *testing.T, r *Report) coverage.File {
	t.Helper()
	for _, f := range r.Kernels[0].Coverage {
		if filepath.Base(f.Path) == "mmapdrv.c" {
			return f
		}
	}
	t.Fatal("no coverage of mmapdrv.c in the fixture")
	return coverage.File{}
}

// checkCoverageMarks checks that the lines of f's source in doc carry the
// class of their state, and lines without code none.
func checkCoverageMarks(t *testing.T, doc *html.Node, f coverage.File) {
	t.Helper()
	src := driverDetails(doc)
	if src == nil {
		t.Fatal("no source view of kmod/mmapdrv.c")
	}
	states := f.States()
	seen := 0
	kinds := map[coverage.State]int{}
	walk(src, func(n *html.Node) {
		d := attr(n, "data-line")
		if n.Data != "span" || d == "" {
			return
		}
		line, _ := strconv.Atoi(d)
		want := ""
		if s, ok := states[line]; ok {
			want = "cov-" + string(s)
			kinds[s]++
		}
		if got := attr(n, "class"); got != want {
			t.Errorf("line %d: class %q, want %q", line, got, want)
		}
		seen++
	})
	if seen < 200 {
		t.Errorf("%d source lines in the page, want the whole file", seen)
	}
	if kinds[coverage.Hit] == 0 || kinds[coverage.Missed]+kinds[coverage.Unreached] == 0 {
		t.Errorf("line states in the page: %v, want run lines and lines not run", kinds)
	}
}

// driverDetails is the folding section of kmod/mmapdrv.c's source.
func driverDetails(doc *html.Node) *html.Node {
	var out *html.Node
	walk(doc, func(n *html.Node) {
		if out == nil && n.Data == "details" && attr(n, "class") == "cov-file" && text(find(n, "code", "", "")) == "kmod/mmapdrv.c" {
			out = n
		}
	})
	return out
}
