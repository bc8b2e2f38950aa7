package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The page as Chromium lays it out, at the size of a laptop's screen.
// KMODVM_REPORT_SHOTS names a directory to keep the screenshots in.
const viewW, viewH = 1280, 800

// openPage writes page to a file and loads it in b, returning how long
// the load took and, once the page has painted its first frame after the
// load, the milliseconds since navigation started.
func openPage(t *testing.T, b *browser, page []byte) (time.Duration, float64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	d := b.load(t, "file://"+path)
	var painted float64
	b.eval(t, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))`, &painted)
	return d, painted
}

func keepShot(t *testing.T, b *browser, name string) {
	t.Helper()
	dir := os.Getenv("KMODVM_REPORT_SHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	b.screenshot(t, path)
	t.Logf("screenshot: %s", path)
}

// box is an element's place in the viewport and its text.
type box struct {
	Found               bool
	Top, Bottom, Height float64
	Text                string
}

// boxOf finds the first element matching a CSS selector.
func boxOf(t *testing.T, b *browser, selector string) box {
	t.Helper()
	var bx box
	b.eval(t, `(() => { const e = document.querySelector(`+jsString(selector)+`);
		if (!e) return {Found: false};
		const r = e.getBoundingClientRect();
		return {Found: true, Top: r.top, Bottom: r.bottom, Height: innerHeight, Text: e.innerText}; })()`, &bx)
	return bx
}

func jsString(s string) string {
	return "`" + strings.NewReplacer("`", "\\`", "\\", "\\\\", "$", "\\$").Replace(s) + "`"
}

// One failing test among 128: the first screen says which, its finding
// and the module's line, and that line links to its source in the page.
func TestHTMLFirstScreenSaysWhatFailed(t *testing.T) {
	b := startBrowser(t, viewW, viewH)
	openPage(t, b, renderHTML(t, oneOf128(t)))
	keepShot(t, b, "one-of-128.png")
	f := boxOf(t, b, "#failed li.failure")
	if !f.Found {
		t.Fatal("no failure listed")
	}
	for _, want := range []string{"TestWarnDuringPassingTest", "WARNING in faultmod_ioctl", "faultmod.c:168", "6.1.0-57-amd64", "repro.sh"} {
		if !strings.Contains(f.Text, want) {
			t.Errorf("the failure reads %q, want %q in it", f.Text, want)
		}
	}
	if f.Top < 0 || f.Bottom > float64(f.Height) {
		t.Errorf("the failure lies at %.0f-%.0f px, outside the first %.0f px", f.Top, f.Bottom, f.Height)
	}
	src := boxOf(t, b, "#failed li.failure a[href*=src]")
	var target string
	b.eval(t, `(() => { const a = document.querySelector("#failed li.failure a[href*=src]");
		const e = a && document.getElementById(a.getAttribute("href").slice(1));
		return e ? e.querySelector("mark").innerText : ""; })()`, &target)
	if !src.Found || !strings.Contains(target, `WARN(1, "faultmod: warning requested\n");`) {
		t.Errorf("faultmod.c:168 links to %q, want the excerpt with the WARN line marked", target)
	}
}

// visibleRows counts the grid's test rows the page shows.
func visibleRows(t *testing.T, b *browser) int {
	t.Helper()
	var n int
	b.eval(t, `[...document.querySelectorAll("table.grid tr.test")].filter(r => r.getClientRects().length > 0).length`, &n)
	return n
}

// click clicks the label of a form control, as a reader would.
func click(t *testing.T, b *browser, selector string) {
	t.Helper()
	var ok bool
	b.eval(t, `(() => { const e = document.querySelector(`+jsString(selector)+`); if (!e) return false; e.click(); return true; })()`, &ok)
	if !ok {
		t.Fatalf("nothing to click at %s", selector)
	}
}

// 16 kernels on each architecture with 1,000 results each: the page loads
// in under 2 s with its failure on the first screen, the passing rows of
// its big suites folded, and each filter and fold shows its rows.
func TestHTMLAtScale(t *testing.T) {
	r := bigReport(t)
	start := time.Now()
	page := renderHTML(t, r)
	written := time.Since(start)
	b := startBrowser(t, viewW, viewH)
	best, painted := time.Hour, 0.0
	for range 3 {
		if d, p := openPage(t, b, page); d < best {
			best, painted = d, p
		}
	}
	t.Logf("%d kernels × %d results: %.2f MiB, written in %v, loaded in %v (best of 3), first frame after it at %.0f ms",
		len(r.Kernels), len(r.Kernels[0].Tests), float64(len(page))/(1<<20), written.Round(time.Millisecond), best.Round(time.Millisecond), painted)
	// 100 KiB a kernel of 1,000 results (8 MiB for five architectures'
	// 80): the bound grows with the architectures, not with each result.
	if limit := len(r.Kernels) * 100 << 10; len(page) > limit {
		t.Errorf("the page is %d bytes, want under %d (100 KiB a kernel)", len(page), limit)
	}
	if best > 2*time.Second {
		t.Errorf("the page took %v to load, want under 2s", best)
	}
	keepShot(t, b, "scale.png")
	if f := boxOf(t, b, "#failed li.failure"); !strings.Contains(f.Text, "TestWarnDuringPassingTest") || f.Bottom > float64(f.Height) {
		t.Errorf("the first screen does not show the failure: %+v", f)
	}
	for _, step := range []struct {
		click string
		rows  int
	}{
		{"", 1}, // the failure; every other row is a big suite's pass
		{"label[for=rows-all]", 1001},
		{"label[for=rows-failed]", 1},
		{"label[for=rows-findings]", 1},
		{"label[for=rows-skipped]", 18},
		{"label[for=rows-folded]", 1},
		{"tbody.fold label.show", 118 + 1},
	} {
		if step.click != "" {
			click(t, b, step.click)
		}
		if got := visibleRows(t, b); got != step.rows {
			t.Errorf("after clicking %q: %d rows shown, want %d", step.click, got, step.rows)
		}
	}
	click(t, b, "label[for=rows-all]")
	var ms float64
	b.eval(t, `(() => { const t0 = performance.now(); document.querySelector("label[for=rows-failed]").click();
		document.querySelector("label[for=rows-all]").click(); document.body.offsetHeight;
		return performance.now() - t0; })()`, &ms)
	t.Logf("showing all %d cells again took %.0f ms", len(r.Kernels)*1001, ms)
}
