package vmtest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// planned is one kernel of a run: the selector that named it and what it
// resolved to.
type planned struct {
	sel  string
	spec *kernel.Spec
	// err is why the selector could not be resolved (the archive was
	// unreachable, say): the kernel is reported as an error, the others run.
	err error
	// dir is the kernel's directory under the run's output: its name, or
	// its name and ID when two kernels of the run share a name.
	dir string
}

func (p planned) name() string {
	if p.spec != nil {
		return p.spec.Name
	}
	return p.sel
}

// plan resolves every selector before anything runs, so that a selector
// that names no kernel is a usage error reported at once, and selectors
// that name one kernel twice ("6.1" and "6.1.0-57-amd64") run it once.
func (r *runner) plan(ctx context.Context, sels []string) ([]planned, error) {
	var out []planned
	var unknown []string
	seen := map[string]int{}
	names := map[string]int{}
	for _, raw := range sels {
		s, err := kernel.ParseSelector(raw)
		if err != nil {
			return nil, &ErrConfig{err.Error()}
		}
		spec, err := r.fetcher.ResolveSpec(ctx, s)
		switch {
		case errors.Is(err, kernel.ErrNotFound), errors.Is(err, kernel.ErrSelector):
			unknown = append(unknown, err.Error())
			continue
		case err != nil:
			out = append(out, planned{sel: raw, err: err, dir: raw})
			continue
		}
		id := spec.ID()
		if i, ok := seen[id]; ok {
			out[i].sel += ", " + raw
			continue
		}
		seen[id] = len(out)
		names[spec.Name]++
		r.selectors.Store(spec.Name, raw)
		out = append(out, planned{sel: raw, spec: spec, dir: spec.Name})
	}
	if len(unknown) > 0 {
		return nil, &ErrConfig{strings.Join(unknown, "\n")}
	}
	for i, p := range out {
		if p.spec != nil && names[p.spec.Name] > 1 {
			out[i].dir = fmt.Sprintf("%s-%s", p.spec.Name, p.spec.ID()[:8])
		}
	}
	return out, nil
}
