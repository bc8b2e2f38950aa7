package agent

import (
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
		mod, deps := scopeModules(mods, c.named)
		if moduleName(mod) != c.want || len(deps) != 2 || deps[0].Name != "dep1" || deps[1].Name != "dep2" {
			t.Errorf("scopeModules(%q) = %q, %v; want %q, [dep1 dep2]", c.named, moduleName(mod), deps, c.want)
		}
	}
}

// The scope is the module's text, its init code left out.
func TestTextSpan(t *testing.T) {
	addrs := map[string]uint64{".text": 0x1000, ".text.unlikely": 0x1800, ".exit.text": 0x1900, ".init.text": 0x9000, ".data": 0x3000, ".rodata": 0x2000}
	sizes := map[string]uint64{".text": 0x700, ".text.unlikely": 0x80, ".exit.text": 0x20, ".init.text": 0x100, ".data": 0x100, ".rodata": 0x100}
	if got, want := textSpan(addrs, sizes), (failnth.Range{Start: 0x1000, End: 0x1920}); got != want {
		t.Errorf("textSpan = %#x, want %#x", got, want)
	}
	if got := textSpan(addrs, nil); !got.Empty() {
		t.Errorf("textSpan without sizes = %#x, want none", got)
	}
}
