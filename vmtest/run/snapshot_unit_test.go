package run

import (
	"reflect"
	"testing"
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
