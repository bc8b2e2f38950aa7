package run

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// The run's layers go to the guest in order, in as few batches of shared
// memory as fit; one that cannot fit at all makes the run boot instead.
func TestBatchLayersFillTheSharedMemoryInOrder(t *testing.T) {
	for _, c := range []struct {
		name  string
		sizes []int64
		limit int64
		want  [][]int
	}{
		{"all fit", []int64{10, 20, 30}, 100, [][]int{{0, 1, 2}}},
		{"padding counts", []int64{49, 49}, 100, [][]int{{0}, {1}}},
		{"exactly full", []int64{48, 52}, 100, [][]int{{0, 1}}},
		{"split", []int64{60, 30, 20, 90}, 100, [][]int{{0, 1}, {2}, {3}}},
		{"none", nil, 100, nil},
	} {
		got, err := batchLayers(c.sizes, c.limit)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: batchLayers(%v, %d) = %v, %v; want %v", c.name, c.sizes, c.limit, got, err, c.want)
		}
	}
	if _, err := batchLayers([]int64{10, 101}, 100); err == nil {
		t.Error("a layer larger than the shared memory was batched")
	}
}

// The VMs of a kernel that run at once (the sweep's) share memory with
// the host through files of their own: a VM truncates its file as it
// starts, writes the run's layers there, and removes it as it ends.
func TestSnapshotShareFileIsEachVMsOwn(t *testing.T) {
	img := &guestImage{layers: []string{"base.cpio", "run.cpio"}}
	q := qemu.Config{Serial: []qemu.Port{{Name: "console"}, {Name: "events"}}}
	first, second := snapshotConfig(q, img, "/k", 0), snapshotConfig(q, img, "/k", 2)
	if first.SharePath == second.SharePath || filepath.Dir(first.SharePath) != "/k" || filepath.Dir(second.SharePath) != "/k" {
		t.Errorf("share files %q and %q, want two in /k", first.SharePath, second.SharePath)
	}
}
