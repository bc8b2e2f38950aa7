package kbuild

import (
	"reflect"
	"testing"
)

func TestParseDiagnostics(t *testing.T) {
	log := []byte(`make: Entering directory '/k'
  CC [M]  /out/src/m.c.o
/out/src/m.c: In function 'm_init':
/out/src/m.c:8:13: warning: unused variable 'unused' [-Wunused-variable]
/out/src/sub/x.h:3:1: error: unknown type name 'foo'
/usr/src/linux/include/y.h:9: warning: something in the kernel
/out/src/m.c:8:13: warning: unused variable 'unused' [-Wunused-variable]
ERROR: modpost: "bar" [/out/src/m.ko] undefined!
`)
	warns, errs := ParseDiagnostics(log, "/out/src", "/home/me/m")
	wantW := []Diagnostic{
		{File: "m.c", Line: 8, Col: 13, Severity: "warning", Message: "unused variable 'unused' [-Wunused-variable]"},
		{File: "/usr/src/linux/include/y.h", Line: 9, Severity: "warning", Message: "something in the kernel"},
	}
	wantE := []Diagnostic{
		{File: "sub/x.h", Line: 3, Col: 1, Severity: "error", Message: "unknown type name 'foo'"},
		{File: "modpost", Severity: "error", Message: `"bar" [/home/me/m/m.ko] undefined!`},
	}
	if !reflect.DeepEqual(warns, wantW) {
		t.Errorf("warnings:\n got %+v\nwant %+v", warns, wantW)
	}
	if !reflect.DeepEqual(errs, wantE) {
		t.Errorf("errors:\n got %+v\nwant %+v", errs, wantE)
	}
}

func TestParseModinfo(t *testing.T) {
	got := ParseModinfo([]byte("license=GPL\x00depends=mc,videodev\x00\x00alias=a\x00alias=b\x00vermagic=6.1.0-57-amd64 SMP\x00junk"))
	want := map[string]string{"license": "GPL", "depends": "mc,videodev", "alias": "a\nb", "vermagic": "6.1.0-57-amd64 SMP"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseModinfo = %v, want %v", got, want)
	}
}
