package kernel

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

func TestSpecIDIsTheInputs(t *testing.T) {
	base := Spec{Provider: "source", Arch: "amd64", Name: "6.1.192-debug", Inputs: []string{"linux-source-6.1 6.1.192-1 abc", "config kasan"}}
	same := base
	same.Name, same.Note = "renamed", "a note is not identity"
	if base.ID() != same.ID() {
		t.Errorf("names and notes changed the ID")
	}
	for name, other := range map[string]Spec{
		"another config":   {Provider: "source", Arch: "amd64", Inputs: []string{"linux-source-6.1 6.1.192-1 abc", "config kcsan"}},
		"another provider": {Provider: "debian", Arch: "amd64", Inputs: base.Inputs},
		"another arch":     {Provider: "source", Arch: "arm64", Inputs: base.Inputs},
	} {
		if other.ID() == base.ID() {
			t.Errorf("%s: same ID %s", name, base.ID())
		}
	}
}

// countingProvider makes tiny but complete cache entries and counts how
// often it is asked to.
type countingProvider struct{ made int }

func (p *countingProvider) Name() string              { return "counting" }
func (p *countingProvider) Accepts(sel Selector) bool { return sel.Variant == "debug" }
func (p *countingProvider) Resolve(_ context.Context, sel Selector) (*Spec, error) {
	return &Spec{Provider: p.Name(), Name: sel.Series + "-debug", ABI: sel.Series + ".0-debug", Variant: sel.Variant, Inputs: []string{sel.Series}}, nil
}
func (p *countingProvider) Make(_ context.Context, s *Spec, dir string) (*Kernel, error) {
	p.made++
	img := filepath.Join(dir, "bzImage")
	if err := os.WriteFile(img, []byte("image"), 0o644); err != nil {
		return nil, err
	}
	return &Kernel{Name: s.Name, ABI: s.ABI, BzImage: img}, nil
}

func TestAProviderAddedWithUseFillsTheCacheOnce(t *testing.T) {
	p := &countingProvider{}
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir()}}
	f.Use(p)
	sel, err := ParseSelector("6.1-debug")
	if err != nil {
		t.Fatal(err)
	}
	k1, err := f.Fetch(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := f.Fetch(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	if p.made != 1 {
		t.Errorf("made %d times, want once", p.made)
	}
	if k1.ID == "" || k1.ID != k2.ID || k2.Provider != "counting" || k2.Variant != "debug" || k2.Arch != arch.Default {
		t.Errorf("second fetch = %+v, want the first's identity %s", k2, k1.ID)
	}
	if got, err := f.Cache.Get(k1.ID); err != nil || got.BzImage != filepath.Join(got.Dir, "bzImage") {
		t.Errorf("cache entry %s: %v %+v", k1.ID, err, got)
	}
	// The offline fetcher finds it without asking the provider again.
	off := &Fetcher{Cache: f.Cache, Offline: true}
	off.Use(p)
	if _, err := off.Fetch(context.Background(), sel); err != nil || p.made != 1 {
		t.Errorf("offline: %v, made %d", err, p.made)
	}
}
