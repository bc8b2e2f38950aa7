package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// tableProvider resolves series from a table: "6.1" and "6.1-debug" are
// kernels, "6.1.0-1-amd64" is another name for "6.1", "9.9" is none, "7.7"
// a kernel of the default architecture alone, and "8.8" cannot be
// resolved for a reason other than its absence.
type tableProvider struct{}

func (tableProvider) Name() string                   { return "table" }
func (tableProvider) Accepts(s kernel.Selector) bool { return s.Kind != kernel.Path }
func (tableProvider) Make(context.Context, *kernel.Spec, string) (*kernel.Kernel, error) {
	return nil, errors.New("not made in these tests")
}
func (tableProvider) Resolve(_ context.Context, s kernel.Selector) (*kernel.Spec, error) {
	series := s.Series
	if s.Kind == kernel.ABI {
		series = strings.SplitN(s.ABI, ".0-", 2)[0]
	}
	switch series {
	case "9.9":
		return nil, fmt.Errorf("%w: %q matches no kernel", kernel.ErrNotFound, s.Raw)
	case "8.8":
		return nil, errors.New("the archive is unreachable")
	case "7.7":
		if s.Arch() != arch.Default {
			return nil, fmt.Errorf("%w (the index is old)", &kernel.LackError{Short: "the table has no " + s.Arch() + " 7.7",
				Detail: fmt.Sprintf("%q matches no %s kernel; nearest: a long list", s.Raw, s.Arch())})
		}
	}
	name := series + ".0-1-amd64"
	if s.Variant != "" {
		name = series + ".5-" + s.Variant
	}
	return &kernel.Spec{Provider: "table", Name: name, Inputs: []string{series, s.Variant}}, nil
}

func planOf(t *testing.T, sels ...string) ([]planned, error) {
	t.Helper()
	return planFor(t, nil, sels...)
}

// planFor plans sels for the architectures arches.
func planFor(t *testing.T, arches []string, sels ...string) ([]planned, error) {
	t.Helper()
	f := &kernel.Fetcher{Cache: &kernel.Cache{Dir: t.TempDir()}}
	f.Use(tableProvider{})
	r := &runner{fetcher: f}
	return r.plan(context.Background(), sels, arches)
}

// A series one architecture lacks is a skipped cell beside an
// architecture that has it, and a usage error where no architecture of
// the run has it.
func TestPlanSkipsASeriesAnArchitectureLacks(t *testing.T) {
	other := ""
	for _, n := range arch.Names() {
		if n != arch.Default {
			other = n
		}
	}
	p, err := planFor(t, []string{arch.Default, other}, "7.7")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 || p[0].spec == nil || p[1].skip == "" || p[1].arch != other || p[1].name() != "7.7 ("+other+")" ||
		p[1].skip != "7.7 on "+other+": skipped (the table has no "+other+" 7.7)" {
		t.Fatalf("plan = %+v, want 7.7 planned and skipped on %s", p, other)
	}
	for _, c := range []struct {
		arches []string
		sel    string
	}{
		{[]string{other}, "7.7"},
		{[]string{arch.Default, other}, "9.9"},
	} {
		var ce *runcfg.ErrConfig
		if _, err := planFor(t, c.arches, c.sel); !errors.As(err, &ce) {
			t.Errorf("plan(%s) for %q = %v, want a usage error", c.sel, c.arches, err)
		}
	}
}

func TestPlanRunsAKernelNamedTwiceOnce(t *testing.T) {
	p, err := planOf(t, "6.1", "6.1-debug", "6.1.0-1-amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 {
		t.Fatalf("planned %d kernels, want 2: %+v", len(p), p)
	}
	if p[0].sel != "6.1, 6.1.0-1-amd64" || p[0].dir != "6.1.0-1-amd64" || p[1].dir != "6.1.5-debug" {
		t.Errorf("plan = %+v", p)
	}
	if p[0].spec.ID() == p[1].spec.ID() {
		t.Errorf("stock and debug kernels share ID %s", p[0].spec.ID())
	}
}

func TestPlanSelectorMatchingNothingIsAUsageError(t *testing.T) {
	_, err := planOf(t, "6.1", "9.9")
	var ce *runcfg.ErrConfig
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, `"9.9" matches no kernel`) {
		t.Fatalf("plan(6.1, 9.9) = %v, want an runcfg.ErrConfig naming 9.9", err)
	}
}

func TestPlanKeepsAnUnresolvableKernelAsItsOwnError(t *testing.T) {
	p, err := planOf(t, "8.8", "6.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 || p[0].err == nil || p[0].name() != "8.8" || p[1].err != nil {
		t.Errorf("plan = %+v, want 8.8 failed and 6.1 planned", p)
	}
}
