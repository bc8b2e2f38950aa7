package run

import (
	"context"
	"testing"

	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// One kernel's timeout or cancel while the shared guest layers build must
// not fail the kernels after it: they get the layers.
func TestGuestLayersSurviveAKernelsCancel(t *testing.T) {
	r := &runner{cfg: &runcfg.Config{}, images: &initramfs.Builder{CacheDir: t.TempDir()}, ctx: t.Context()}
	first, cancel := context.WithCancel(t.Context())
	cancel()
	if g := r.guestLayers(first, "amd64"); g.err == nil {
		t.Log("the canceled kernel got the layers anyway")
	}
	g := r.guestLayers(t.Context(), "amd64")
	if g.err != nil || len(g.layers) == 0 {
		t.Fatalf("the next kernel got %v, %v; want the layers", g.layers, g.err)
	}
	r.guestRun.Wait()
}
