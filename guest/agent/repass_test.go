package agent

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

// TestPasses runs the later passes over loads whose module sites stand
// where each case's pass puts them, as a VM's loads met them: the sites
// a pass meets move from one pass to the next.
func TestPasses(t *testing.T) {
	const a, b, c = "init+0x45", "init+0x8d", "init+0xfa"
	for _, tc := range []struct {
		name  string
		first []hit
		// sites are, by pass (2 on), the module's sites the pass's points
		// meet, by point.
		sites []map[int]string
		// want are the passes that ran, each as its window.
		want []string
	}{
		{"no hit, no pass", nil, nil, nil},
		{
			// 6.1-debug: a second pass met the first and third sites
			// again but not the second, which the third pass met.
			"a quiet pass is not the end",
			[]hit{{N: 204, Site: a}, {N: 208, Site: c}},
			[]map[int]string{{204: a, 208: c}, {206: a, 208: b, 210: c}, {204: a, 206: b, 208: c}, {}},
			[]string{"2:200-212", "3:200-212", "4:200-214", "5:200-214"},
		},
		{
			"two quiet passes end them",
			[]hit{{N: 204, Site: a}, {N: 206, Site: b}, {N: 208, Site: c}},
			[]map[int]string{{204: a, 206: b, 208: c}, {205: a}, {}},
			[]string{"2:200-212", "3:200-212"},
		},
		{
			"a new site starts the count again",
			[]hit{{N: 206, Site: b}},
			[]map[int]string{{206: b}, {204: a}, {210: c}, {}, {}},
			[]string{"2:202-210", "3:202-210", "4:200-210", "5:200-214"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var order []int
			lo := map[int]int{}
			hi := map[int]int{}
			passes(tc.first, event.PassState{}, func(pass, n int) ([]hit, bool) {
				if _, ok := lo[pass]; !ok {
					lo[pass] = n
					order = append(order, pass)
				}
				hi[pass] = n
				if site, ok := tc.sites[pass-2][n]; ok {
					return []hit{{N: n, Site: site}}, true
				}
				return nil, true
			})
			var ran []string
			for _, pass := range order {
				ran = append(ran, fmt.Sprintf("%d:%d-%d", pass, lo[pass], hi[pass]))
			}
			if !slices.Equal(ran, tc.want) {
				t.Errorf("passes %v, want %v", ran, tc.want)
			}
		})
	}
}

// TestPassesStop: a point after which the sweep cannot go on ends the
// passes there.
func TestPassesStop(t *testing.T) {
	points := 0
	passes([]hit{{N: 10, Site: "init+0x10"}}, event.PassState{}, func(pass, n int) ([]hit, bool) {
		points++
		return nil, n < 8
	})
	if points != 3 {
		t.Errorf("%d points ran, want 3 (6, 7, 8)", points)
	}
}

// TestPassesResumed: after a VM that died in point 205 of pass 3, the
// passes go on after it, over the window of every hit so far, and count
// the quiet passes from none; the points VMs died in are not run again.
func TestPassesResumed(t *testing.T) {
	first := []hit{{N: 204, Site: "init+0x45"}, {N: 206, Site: "init+0x8d"}, {N: 208, Site: "init+0xfa"}}
	var ran []string
	lo := map[int]int{}
	passes(first, event.PassState{Pass: 3, After: 205, Killed: []int{205, 210}}, func(pass, n int) ([]hit, bool) {
		if n == 205 || n == 210 {
			t.Errorf("pass %d ran point %d, which killed a VM", pass, n)
		}
		if _, ok := lo[pass]; !ok {
			lo[pass] = n
			ran = append(ran, fmt.Sprintf("%d:%d", pass, n))
		}
		return nil, true
	})
	if want := []string{"3:206", "4:200"}; !slices.Equal(ran, want) {
		t.Errorf("passes began at %v, want %v", ran, want)
	}
}
