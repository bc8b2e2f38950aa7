package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symbolized is a kernel with one finding resolved to the module's
// source (faultmod's GPF on 6.1, as vmtest/symbol resolves it), the source
// written at src.
func symbolized(t *testing.T) (*Report, string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "faultmod.c")
	var b strings.Builder
	for n := 1; n <= 210; n++ {
		fmt.Fprintf(&b, "line %d\n", n)
	}
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	gpf := Frame{Func: "faultmod_ioctl", Offset: 0x215, Size: 0x3e2, Module: "faultmod", File: src, Line: 58,
		Inline: []Source{{Func: "faultmod_gpf", File: src, Line: 58}, {Func: "faultmod_ioctl", File: src, Line: 201}}}
	k := &Kernel{Name: "6.1.0-57-amd64", Status: Fail,
		Tests: []*Test{{Package: "faultmod", Name: "TestGPFInChild", Status: Fail, Output: "killed", Findings: []int{0}}},
		Findings: []Finding{{Kind: "general protection fault", Title: "general protection fault in faultmod_ioctl", Test: "TestGPFInChild",
			Report: "general protection fault ...", Func: "faultmod_ioctl", PC: &gpf,
			Frames: []Frame{{Func: "__x64_sys_ioctl", Offset: 0x90, Size: 0xd0}, {Func: "do_syscall_64", Offset: 0x5d, Size: 0xb0, Unreliable: true}}}},
	}
	return &Report{Schema: SchemaVersion, Kernels: []*Kernel{k}}, src
}

func TestSourceLinesInEveryRendering(t *testing.T) {
	r, src := symbolized(t)
	where := src + ":58 (faultmod_gpf, inlined in faultmod_ioctl at " + src + ":201)"
	render := func(f func(*bytes.Buffer) error) string {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}

	var back *Report
	js := render(func(b *bytes.Buffer) error { return r.WriteJSON(b) })
	back, err := ReadJSON(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if pc := back.Kernels[0].Findings[0].PC; pc.File != src || pc.Line != 58 || len(pc.Inline) != 2 || pc.Inline[1].Line != 201 {
		t.Errorf("JSON round trip: %+v", pc)
	}
	if strings.Contains(js, `"inline": null`) || strings.Count(js, `"file"`) != 3 {
		t.Errorf("JSON: frames without lines must carry no line fields:\n%s", js)
	}

	junit := render(func(b *bytes.Buffer) error { return r.WriteJUnit(b) })
	if !strings.Contains(junit, "PC: faultmod_ioctl+0x215/0x3e2 [faultmod]  "+where) {
		t.Errorf("JUnit failure text lacks the symbolized trace:\n%s", junit)
	}

	md := render(func(b *bytes.Buffer) error { return r.WriteMarkdown(b) })
	if !strings.Contains(md, "at `"+where+"`") {
		t.Errorf("Markdown lacks the source line:\n%s", md)
	}

	page := render(func(b *bytes.Buffer) error { return r.WriteHTML(b, HTMLOptions{EmbedLogs: true}) })
	id := "k0-6.1.0-57-amd64-f0-src0"
	if !strings.Contains(page, `<a href="#`+id+`">`) || !strings.Contains(page, `id="`+id+`"`) || !strings.Contains(page, "<mark>   58  line 58</mark>") {
		t.Errorf("HTML: the PC's line links to an embedded excerpt with the line marked:\n%s", page)
	}
	page = render(func(b *bytes.Buffer) error { return r.WriteHTML(b, HTMLOptions{}) })
	if !strings.Contains(page, `<a href="`+src+`">`) {
		t.Errorf("HTML without embedding: the line links to the file")
	}

	ann := render(func(b *bytes.Buffer) error { return r.WriteAnnotations(b, filepath.Dir(src)) })
	if !strings.Contains(ann, "::error file=faultmod.c,line=58,title=TestGPFInChild fail%3A general protection fault in faultmod_ioctl") {
		t.Errorf("annotation not placed on the line:\n%s", ann)
	}
}
