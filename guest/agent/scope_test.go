package agent

import (
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/guest/failnth"
)

func TestRejectRange(t *testing.T) {
	mod := failnth.Range{Start: 0x5000, End: 0x6000}
	for _, c := range []struct {
		name string
		deps []failnth.Range
		want failnth.Range
	}{
		{"no dependency", nil, failnth.Range{}},
		{"one", []failnth.Range{{Start: 0x1000, End: 0x2000}}, failnth.Range{Start: 0x1000, End: 0x2000}},
		{"all below the module", []failnth.Range{{Start: 0x3000, End: 0x4000}, {Start: 0x1000, End: 0x2000}}, failnth.Range{Start: 0x1000, End: 0x4000}},
		{"on both sides: the first", []failnth.Range{{Start: 0x7000, End: 0x8000}, {Start: 0x1000, End: 0x2000}}, failnth.Range{Start: 0x7000, End: 0x8000}},
	} {
		if got := rejectRange(mod, c.deps); got != c.want {
			t.Errorf("%s: rejectRange = %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestScopeModules(t *testing.T) {
	mods := []event.Module{{Name: "virtio_console", Early: true}, {Name: "dep1", Dep: true}, {Path: "/lib/modules/x/mydrv.ko"}, {Name: "other"}, {Name: "dep2", Dep: true}}
	for _, c := range []struct {
		named, want string
	}{{"", "mydrv"}, {"other", "other"}} {
		name, deps := scopeModules(mods, c.named)
		if name != c.want || !slices.Equal(deps, []string{"dep1", "dep2"}) {
			t.Errorf("scopeModules(%q) = %q, %v; want %q, [dep1 dep2]", c.named, name, deps, c.want)
		}
	}
}
