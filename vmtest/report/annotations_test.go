package report

import (
	"strings"
	"testing"
)

// annotated is a run on three kernels seen from a checkout at /src/mod:
// a warning in the module on two kernels, one in a kernel header, a build
// error on 7.3 (and a modpost error), the same failed subtest and WARNING on 6.1 and 6.12 (one
// annotation: the finding on the test it belongs to), and a kernel that could not be fetched.
func annotated() *Report {
	unused := Diagnostic{File: "/src/mod/kmod/mmapdrv.c", Line: 42, Col: 9, Severity: "warning", Message: "unused variable 'x' [-Wunused-variable]"}
	// gcc in a UTF-8 locale quotes with ‘’: the same warning all the same.
	unicodeQuotes := unused
	unicodeQuotes.Message = "unused variable \u2018x\u2019 [-Wunused-variable]"
	header := Diagnostic{File: "/usr/src/linux-headers-6.1.0-57-common/include/linux/fortify-string.h", Line: 57, Col: 29, Severity: "warning", Message: "'__builtin_memcpy' reading 16 bytes"}
	tests := func() []*Test {
		return []*Test{
			{Package: "mmapdrv", Name: "TestSize", Status: Pass},
			{Package: "mmapdrv", Name: "TestMmap", Status: Fail, Output: "=== RUN   TestMmap\n--- FAIL: TestMmap (0.01s)\n"},
			{Package: "mmapdrv", Name: "TestMmap/private", Status: Fail, Findings: []int{0},
				Output: "=== RUN   TestMmap/private\n    mmap_test.go:88: read 0x00, want 0x5a\n--- FAIL: TestMmap/private (0.00s)\n"},
		}
	}
	warning := Finding{Kind: "WARNING", Title: "WARNING in drv_mmap", Report: "WARNING: CPU: 0 PID: 83 at drv.c:168 drv_mmap+0x1f\nCall Trace:", Test: "mmapdrv: TestMmap/private"}
	return &Report{Kernels: []*Kernel{
		{Name: "5.10", Status: Error, Error: "fetch: no linux-image package matches 5.10"},
		{Name: "6.1.0-57-amd64", Status: Fail,
			Build: &Build{Status: Pass, Warnings: []Diagnostic{unused, header}}, Boot: &Boot{Status: Pass},
			Modules: []Module{{Name: "mmapdrv", Load: Pass}}, Tests: tests(),
			Findings: []Finding{warning, {Kind: KindTaint, Title: "mmapdrv: loading out-of-tree module taints kernel"}}},
		{Name: "6.12.57+deb13-amd64", Status: Fail,
			Build: &Build{Status: Pass, Warnings: []Diagnostic{unicodeQuotes}}, Boot: &Boot{Status: Crash, Exit: "panic", Error: "Kernel panic - not syncing: Fatal exception"},
			Modules: []Module{{Name: "mmapdrv", Load: Pass}, {Name: "helper", Load: Fail, Error: "finit_module: Unknown symbol in module (ENOENT)"}}, Tests: tests(),
			Findings: []Finding{warning}},
		{Name: "7.3.4+deb13-amd64", Status: Fail, Error: "build: make exited 2",
			Build: &Build{Status: Fail, Error: "make exited 2", Errors: []Diagnostic{
				{File: "/src/mod/kmod/mmapdrv.c", Line: 120, Col: 2, Severity: "error", Message: "implicit declaration of function 'vm_flags_set'; did you mean 'vm_flags_clear'?"},
				{File: "modpost", Severity: "error", Message: "\"vm_flags_set\" [kmod/mmapdrv.ko] undefined!"}},
				Warnings: []Diagnostic{unused}}},
	}}
}

func TestAnnotationsDeduplicateAcrossKernels(t *testing.T) {
	want := []string{
		"::error file=kmod/mmapdrv.c,line=120,col=2,title=7.3.4+deb13-amd64::implicit declaration of function 'vm_flags_set'; did you mean 'vm_flags_clear'?",
		`::error title=7.3.4+deb13-amd64::modpost: "vm_flags_set" [kmod/mmapdrv.ko] undefined!`,
		"::warning file=kmod/mmapdrv.c,line=42,col=9,title=6.1.0-57-amd64%2C 6.12.57+deb13-amd64%2C 7.3.4+deb13-amd64::unused variable 'x' [-Wunused-variable]",
		"::warning title=6.1.0-57-amd64::/usr/src/linux-headers-6.1.0-57-common/include/linux/fortify-string.h:57:29: '__builtin_memcpy' reading 16 bytes",
		"::error title=kmodvm error on 5.10::fetch: no linux-image package matches 5.10",
		"::error title=TestMmap/private fail%3A WARNING in drv_mmap on 6.1.0-57-amd64%2C 6.12.57+deb13-amd64::mmap_test.go:88: read 0x00, want 0x5a%0A" +
			"WARNING in drv_mmap (during mmapdrv: TestMmap/private)%0AWARNING: CPU: 0 PID: 83 at drv.c:168 drv_mmap+0x1f%0ACall Trace:",
		"::error title=boot crash on 6.12.57+deb13-amd64::Kernel panic - not syncing: Fatal exception",
		"::error title=load helper fail on 6.12.57+deb13-amd64::finit_module: Unknown symbol in module (ENOENT)",
	}
	var b strings.Builder
	if err := annotated().WriteAnnotations(&b, "/src/mod"); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("annotations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAnnotationPathsRelativeToRoot(t *testing.T) {
	for _, tc := range []struct {
		root, file, want string
		ok               bool
	}{
		{"/src/mod", "/src/mod/kmod/a.c", "kmod/a.c", true},
		{"/src/mod/", "/src/mod/./kmod/../kmod/a.c", "kmod/a.c", true},
		{"", "kmod/a.c", "kmod/a.c", true},
		{"/src/mod", "/src/module/a.c", "", false},
		{"/src/mod", "/usr/src/linux-headers/include/linux/mm.h", "", false},
		{"/src/mod", "modpost", "", false},
		{"/src/mod", "", "", false},
	} {
		got, ok := relativePath(tc.root, tc.file)
		if got != tc.want || ok != tc.ok {
			t.Errorf("relativePath(%q, %q) = %q, %v; want %q, %v", tc.root, tc.file, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAnnotationEscaping(t *testing.T) {
	a := &annotation{level: "warning", file: "dir,1/a:b%.c", line: 3, message: "100% sure\r\nnext line: a, b", kernels: []string{"6.1", "7.3"}}
	want := "::warning file=dir%2C1/a%3Ab%25.c,line=3,title=6.1%2C 7.3::100%25 sure%0D%0Anext line: a, b\n"
	if got := a.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestAnnotationsClipLongReports(t *testing.T) {
	long := strings.Repeat("    at frame\n", 100)
	r := &Report{Kernels: []*Kernel{{Name: "6.1", Status: Fail, Findings: []Finding{{Kind: "BUG", Title: "BUG in f", Report: long}}}}}
	var b strings.Builder
	if err := r.WriteAnnotations(&b, ""); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "%0A"); n != annotationLines+1 {
		t.Errorf("%d lines in the annotation, want the kind, %d of the report and an ellipsis", n, annotationLines)
	}
	if strings.Count(b.String(), "\n") != 1 {
		t.Errorf("the annotation spans several lines: %q", b.String())
	}
}

func TestReportSummaryKeepsHeaderAndTrace(t *testing.T) {
	r, err := ReadFile("testdata/html/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var warn Finding
	for _, f := range r.Kernels[1].Findings {
		if f.Kind == "WARNING" {
			warn = f
		}
	}
	want := strings.Join([]string{
		"WARNING: CPU: 0 PID: 83 at /tmp/hw-out2/6.1.0-57-amd64/build/0/src/faultmod.c:168 faultmod_ioctl+0x1f0/0x3e2 [faultmod]",
		"Call Trace:",
		" __x64_sys_ioctl+0x90/0xd0",
		" do_syscall_64+0x5d/0xb0",
		" entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
	}, "\n")
	if got := reportSummary(warn.Report); got != want {
		t.Errorf("summary of the real 6.1 WARNING:\n%s\nwant:\n%s", got, want)
	}
	if got := reportSummary("[    1.5] BUG: scheduling while atomic: x/1/0x2\n[    1.6] Modules linked in: m"); got != "BUG: scheduling while atomic: x/1/0x2\nModules linked in: m" {
		t.Errorf("a report without a trace is kept whole, without timestamps: got %q", got)
	}
}
