package debian

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseDlstatusReadsThePercentage(t *testing.T) {
	for _, tc := range []struct {
		line string
		want float64
		ok   bool
	}{
		{"dlstatus:2:17.2330:Retrieving file 2 of 3", 17.233, true},
		{"dlstatus:3:100.0000:Retrieving file 3 of 3", 100, true},
		{"dlstatus:1:0.0000:Retrieving file 1 of 3", 0, true},
		{"pmstatus:dpkg-exec:0.0000:Running dpkg", 0, false},
		{"dlstatus:1:many:Retrieving", 0, false},
		{"dlstatus:1:120:Retrieving", 0, false},
		{"dlstatus:1", 0, false},
		{"", 0, false},
	} {
		got, ok := parseDlstatus(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseDlstatus(%q) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// The fixture is what apt-get download -o APT::Status-Fd=3 wrote for a
// 6.1 kernel's image, headers and kbuild (82.7 MB) from deb.debian.org.
func TestReadStatusReportsEachNewPercentageOnce(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "apt-download.status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []float64
	readStatus(f, func(p float64) { got = append(got, p) })
	want := []float64{0, 16.8579, 17.8723, 91.8165, 100}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("percentages = %v, want %v", got, want)
	}
}

func TestDownloadReportsProgressUpToTheTotal(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads from the Debian archive")
	}
	a := &Archive{Dir: t.TempDir(), Suites: []string{"bookworm"}}
	ix, err := a.Update(t.Context())
	if err != nil {
		t.Skipf("no Debian archive: %v", err)
	}
	pkgs := ix.Lookup("linux-kbuild-6.1")
	if len(pkgs) == 0 {
		t.Fatal("bookworm has no linux-kbuild-6.1")
	}
	type call struct{ done, total int64 }
	var calls []call
	a.Progress = func(done, total int64) { calls = append(calls, call{done, total}) }
	if _, err := a.Download(t.Context(), t.TempDir(), pkgs[:1]); err != nil {
		t.Fatal(err)
	}
	t.Logf("progress calls: %v", calls)
	size := pkgs[0].Size
	if len(calls) < 2 || calls[0] != (call{0, size}) || calls[len(calls)-1] != (call{size, size}) {
		t.Fatalf("progress calls = %v, want 0 of %d first and %d of %d last", calls, size, size, size)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].done < calls[i-1].done {
			t.Errorf("progress went back: %v", calls)
		}
	}
}
