package kernel

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// lagging makes the kernels it is asked to, except those the mirror lacks.
type lagging struct {
	countingProvider
	lacks map[string]bool
	asked []string
}

func (p *lagging) Make(ctx context.Context, s *Spec, dir string) (*Kernel, error) {
	p.asked = append(p.asked, s.Name)
	if p.lacks[s.Name] {
		return nil, Unavailable(fmt.Errorf("apt-get download: %s: 404  Not Found", s.Name))
	}
	return p.countingProvider.Make(ctx, s, dir)
}

func chain(names ...string) *Spec {
	var first, last *Spec
	for _, n := range names {
		s := &Spec{Provider: "counting", Name: n, ABI: n, Series: "5.10", Inputs: []string{n}}
		if first == nil {
			first = s
		} else {
			last.Fallback = s
		}
		last = s
	}
	return first
}

func TestAKernelTheMirrorLacksFallsBackToTheNewestItServes(t *testing.T) {
	p := &lagging{lacks: map[string]bool{"5.10.0-46-arm64": true, "5.10.0-45-arm64": true}}
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir()}}
	f.Use(p)
	s := chain("5.10.0-46-arm64", "5.10.0-45-arm64", "5.10.0-32-arm64", "5.10.0-30-arm64")
	k, err := f.Get(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "5.10.0-32-arm64" || !strings.Contains(k.Note, "does not serve 5.10.0-46-arm64, 5.10.0-45-arm64 (404)") {
		t.Errorf("got %s: %q", k.Name, k.Note)
	}
	// A second run does not ask the mirror again for what it lacked.
	p.asked = nil
	if k, err = f.Get(t.Context(), s); err != nil || k.Name != "5.10.0-32-arm64" {
		t.Fatalf("second: %v %+v", err, k)
	}
	if len(p.asked) != 0 {
		t.Errorf("second run asked for %q", p.asked)
	}
	// With nothing served, the error says what was tried.
	p.lacks = map[string]bool{"a": true, "b": true}
	if _, err := f.Get(t.Context(), chain("a", "b")); err == nil || !strings.Contains(err.Error(), "older builds of 5.10 tried: b") {
		t.Errorf("got %v", err)
	}
}
