package agent

import (
	"fmt"
	"slices"
	"testing"
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
			[]hit{{204, a}, {208, c}},
			[]map[int]string{{204: a, 208: c}, {206: a, 208: b, 210: c}, {204: a, 206: b, 208: c}, {}},
			[]string{"2:200-212", "3:200-212", "4:200-214", "5:200-214"},
		},
		{
			"two quiet passes end them",
			[]hit{{204, a}, {206, b}, {208, c}},
			[]map[int]string{{204: a, 206: b, 208: c}, {205: a}, {}},
			[]string{"2:200-212", "3:200-212"},
		},
		{
			"a new site starts the count again",
			[]hit{{206, b}},
			[]map[int]string{{206: b}, {204: a}, {210: c}, {}, {}},
			[]string{"2:202-210", "3:202-210", "4:200-210", "5:200-214"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var order []int
			lo := map[int]int{}
			hi := map[int]int{}
			passes(tc.first, func(pass, n int) ([]hit, bool) {
				if _, ok := lo[pass]; !ok {
					lo[pass] = n
					order = append(order, pass)
				}
				hi[pass] = n
				if site, ok := tc.sites[pass-2][n]; ok {
					return []hit{{n, site}}, true
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
	passes([]hit{{10, "init+0x10"}}, func(pass, n int) ([]hit, bool) {
		points++
		return nil, n < 8
	})
	if points != 3 {
		t.Errorf("%d points ran, want 3 (6, 7, 8)", points)
	}
}
