package vmtest_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/vmtest"
)

// Two runs must not share an artifacts directory: the second is refused at
// once, before any work, as a configuration error.
func TestOutDirInUseIsRefused(t *testing.T) {
	out := t.TempDir()
	l := flock.New(filepath.Join(out, ".kmodvm.lock"))
	if ok, err := l.TryLock(); !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer l.Unlock()
	_, err := vmtest.RunMatrix(t.Context(), vmtest.Config{Kernels: []string{"6.1"}, Tests: []string{"../bench/emptytest"}, OutDir: out})
	var ce *vmtest.ErrConfig
	if !errors.As(err, &ce) {
		t.Fatalf("RunMatrix = %v, want a configuration error", err)
	}
}
