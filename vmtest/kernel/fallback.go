package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// fallback makes the first of s's fallbacks the mirror serves, after s's
// own packages were missing from it (err), and says so in its note: a
// mirror that lags behind its index, or keeps only some architectures of
// the newest build, costs the newest build, not the kernel.
func (f *Fetcher) fallback(ctx context.Context, s *Spec, err error) (*Kernel, error) {
	missing := []string{s.Name}
	for fb := s.Fallback; fb != nil; fb = fb.Fallback {
		one := *fb
		one.Fallback = nil
		if f.Cache.missing(one.ID()) {
			missing = append(missing, fb.Name)
			continue
		}
		f.logf("%s: %v; trying %s", missing[len(missing)-1], err, fb.Name)
		k, ferr := f.Get(ctx, &one)
		if ferr == nil {
			k.Note = strings.TrimSpace(k.Note + fmt.Sprintf(" The mirror does not serve %s (404): this is %s, the newest %s build it serves.",
				strings.Join(missing, ", "), k.Name, s.Series))
			return k, nil
		}
		if !errors.Is(ferr, ErrUnavailable) {
			return nil, ferr
		}
		missing, err = append(missing, fb.Name), ferr
	}
	return nil, fmt.Errorf("%w (nor does it serve the %d older builds of %s tried: %s)", err, len(missing)-1, s.Series, strings.Join(missing[1:], ", "))
}

// missingFor is how long a kernel's source is believed when it said it
// does not serve the kernel: that long, later runs go straight to the
// fallback instead of asking again.
const missingFor = 24 * time.Hour

// missingDir keeps, per kernel ID, when the kernel's source last said it
// does not serve that kernel's files.
func (c *Cache) missingDir() string { return c.Layout().Missing() }

func (c *Cache) markMissing(id string) {
	if os.MkdirAll(c.missingDir(), 0o755) == nil {
		os.WriteFile(filepath.Join(c.missingDir(), id), nil, 0o644)
	}
}

func (c *Cache) missing(id string) bool {
	info, err := os.Stat(filepath.Join(c.missingDir(), id))
	return err == nil && time.Since(info.ModTime()) < missingFor
}
