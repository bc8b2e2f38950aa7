package srcbuild

import (
	"context"
	"errors"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// Debug kernels are amd64's: an arm64 selector names none, before any
// archive is asked.
func TestResolveRefusesOtherArchitectures(t *testing.T) {
	sel, err := kernel.ParseSelector("6.1-debug")
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Provider{}).Resolve(context.Background(), sel.WithArch("arm64"))
	if !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("Resolve(6.1-debug on arm64) = %v, want ErrNotFound", err)
	}
}
