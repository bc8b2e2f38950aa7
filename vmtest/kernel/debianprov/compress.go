package debianprov

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// compressModules stores a kernel's uncompressed modules (bullseye's and
// bookworm's packages ship them so) as .ko.zst, the way later Debian
// kernels ship .ko.xz: a quarter of the size (6.1: 378 MB of modules
// become 103 MB), for a few seconds once per kernel. Nothing but the guest
// image builder reads them, and it decompresses the ones it takes; depmod,
// run after, names them so in modules.dep. When the host's depmod cannot
// read zstd (kmod without +ZSTD) they stay as they are.
func compressModules(ctx context.Context, modDir string) error {
	if _, err := os.Stat(filepath.Join(modDir, "modules.dep")); err == nil || !depmodReadsZstd(ctx) {
		return nil // a modules.dep of the package's own names them as they are
	}
	var kos []string
	err := filepath.WalkDir(modDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".ko") {
			kos = append(kos, p)
		}
		return err
	})
	if err != nil || len(kos) == 0 {
		return err
	}
	work := make(chan string)
	errs := make(chan error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
			if err != nil {
				errs <- err
				return
			}
			defer enc.Close()
			for p := range work {
				if err := compressFile(enc, p); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
feed:
	for _, p := range kos {
		select {
		case work <- p:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// compressFile replaces p with p.zst. The entry is still being prepared
// in a temporary directory, so no reader sees the pair half-made.
func compressFile(enc *zstd.Encoder, p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p+".zst", enc.EncodeAll(b, nil), 0o644); err != nil {
		return fmt.Errorf("compress %s: %w", p, err)
	}
	return os.Remove(p)
}

// compressKernel replaces the PVH vmlinux at p with p.zst and returns its
// path: QEMU's layer decompresses it into each VM's work directory
// (qemu.IsCompressedKernel), in about a tenth of a second for 6.1's 66 MB,
// which the cache keeps as 13 MB.
func compressKernel(p string) (string, error) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return "", err
	}
	defer enc.Close()
	if err := compressFile(enc, p); err != nil {
		return "", err
	}
	return p + ".zst", nil
}

// depmodReadsZstd reports whether the host's depmod was built with zstd.
func depmodReadsZstd(ctx context.Context) bool {
	p, err := kernel.FindDepmod()
	if err != nil {
		return false
	}
	out, err := proc.Command(ctx, p, "--version").Output()
	return err == nil && strings.Contains(string(out), "+ZSTD")
}
