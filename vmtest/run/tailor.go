package run

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/kbuild"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// tailor makes a kernel built to order (a minimal debug kernel) provide the
// in-kernel modules the modules under test need. They are found the way a
// stock kernel would load them: the modules are built against the stock
// kernel the spec follows (a cached build, usually) and their depends=
// resolved through its modules.dep. The kernel as configured usually has
// them (its configs build the common ones); only when it lacks some is a
// kernel built to order, a build of its own. A module that does not build
// on the stock kernel is left for the real build to report.
func (r *runner) tailor(ctx context.Context, s *kernel.Spec, dir string) (*kernel.Spec, error) {
	if len(r.cfg.Modules) == 0 || s.Stock == nil || !r.fetcher.Tailorable(s) {
		return s, nil
	}
	stock, err := r.fetcher.Get(ctx, s.Stock)
	if err != nil {
		return nil, fmt.Errorf("the stock kernel %s, to find the in-kernel modules yours need: %w", s.Stock.Name, err)
	}
	tc, err := r.toolchains.For(ctx, stock)
	if err != nil {
		return nil, fmt.Errorf("toolchain for %s: %w", stock.Name, err)
	}
	var kos []string
	for i, m := range r.cfg.Modules {
		res, err := kbuild.Build(ctx, stock, tc, kbuild.Options{Source: m, Out: filepath.Join(dir, "stock-build", fmt.Sprint(i)),
			CacheDir: cachedir.Layout{Root: r.cfg.CacheRoot()}.Builds()})
		if err != nil {
			return s, nil
		}
		for _, mod := range res.Modules {
			kos = append(kos, mod.Path)
		}
	}
	needs, err := initramfs.InKernelDeps(stock.ModulesDir, kos)
	if err != nil {
		return nil, fmt.Errorf("in-kernel modules your modules need on %s: %w", stock.Name, err)
	}
	if len(needs) == 0 {
		return s, nil
	}
	base, err := r.fetcher.Get(ctx, s)
	if err != nil {
		return nil, err
	}
	missing, err := initramfs.MissingModules(base.ModulesDir, needs)
	if err != nil || len(missing) == 0 {
		return s, err
	}
	t, err := r.fetcher.Tailor(s, needs)
	if err == nil {
		t.Note = strings.TrimSpace(t.Note + " Built to order with " + strings.Join(missing, ", ") + ", which your modules need.")
	}
	return t, err
}
