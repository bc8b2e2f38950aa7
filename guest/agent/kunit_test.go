package agent

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

func TestKUnitReportSendsOnlySuitesAddedSinceTheListing(t *testing.T) {
	dir := t.TempDir()
	suite := func(name, results string) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "results"), []byte(results), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	suite("builtin_suite", "ok 1 builtin_suite\n")
	before := kunitSuites(dir)
	suite("mmapdrv_helpers", "KTAP version 1\n1..1\nok 1 mmapdrv_helpers\n")
	suite("a_suite", "ok 1 a_suite\n")

	var buf bytes.Buffer
	var mu sync.Mutex
	a := &Agent{enc: event.NewEncoder(lockedWriter{&mu, &buf})}
	a.kunitReport(dir, before)
	var got []string
	d := event.NewDecoder(&buf)
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if ev.Type == event.KUnit {
			got = append(got, ev.Suite+": "+ev.Msg)
		}
	}
	want := []string{"a_suite: ok 1 a_suite\n", "mmapdrv_helpers: KTAP version 1\n1..1\nok 1 mmapdrv_helpers\n"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("KUnit events = %q, want %q", got, want)
	}
}

func TestKUnitSuitesWithoutDebugfsIsNil(t *testing.T) {
	if s := kunitSuites(filepath.Join(t.TempDir(), "missing")); s != nil {
		t.Errorf("kunitSuites of a missing dir = %v, want nil (the host falls back to the log)", s)
	}
}
