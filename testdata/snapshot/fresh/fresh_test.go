// Package fresh holds a guest test that prints what must differ between
// two guests restored from one snapshot (random bytes) and what must be
// the host's (the wall clock), for vmtest/snapshot_test.go.
package fresh

import (
	"encoding/hex"
	"os"
	"testing"
	"time"
)

func TestFresh(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("runs in a kmodvm VM")
	}
	b := make([]byte, 32)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(b); err != nil {
		t.Fatal(err)
	}
	t.Logf("random=%s", hex.EncodeToString(b))
	t.Logf("clock=%d", time.Now().UnixNano())
}
