// Package initramfs builds kmodvm's guest image as layers of newc cpio
// archives that Linux unpacks one after the other: a base with the guest
// agent (made with u-root's mkuimage), one layer per Go test package, one
// per kernel with the modules under test and their in-kernel dependencies,
// and a tiny per-run configuration.
//
// Every layer but the last is cached under a key computed from its inputs
// without running the go command, so a warm build only hashes files and
// concatenates archives.
package initramfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Guest paths of the image's parts.
const (
	TestsDir   = "/kmodvm/tests"
	ModulesDir = "/kmodvm/modules"
)

// layout is part of every cache key: bump it when what a layer holds, or
// where, changes.
const layout = "kmodvm-initramfs-2"

// Builder builds and caches image layers. The zero value caches under the
// user's cache directory.
type Builder struct {
	// CacheDir is kmodvm's cache root: layers go to CacheDir/initramfs,
	// lock files to CacheDir/locks. Empty means $XDG_CACHE_HOME/kmodvm.
	CacheDir string
	// Arch names the guest's architecture (see package arch): the agent
	// and the test binaries are built for it, and it is part of their
	// layers' keys. Empty means arch.Default.
	Arch string
	// SourceDir is the root of the kmodvm module whose guest agent the base
	// layer holds. Empty means the module this package was built from.
	SourceDir string
}

// goarch is the GOARCH of the guest's programs.
func (b *Builder) goarch() (string, error) {
	a, err := arch.Lookup(b.Arch)
	if err != nil {
		return "", err
	}
	return a.GOARCH, nil
}

// goEnv is the go command's GOARCH and GOARM for the guest's programs.
func (b *Builder) goEnv() ([]string, error) {
	a, err := arch.Lookup(b.Arch)
	if err != nil {
		return nil, err
	}
	return a.GoEnv(), nil
}

// cache is the cache the layers are kept in.
func (b *Builder) cache() (cachedir.Layout, error) {
	if b.CacheDir != "" {
		return cachedir.Layout{Root: b.CacheDir}, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return cachedir.Layout{}, fmt.Errorf("find cache dir: %w", err)
	}
	return cachedir.Layout{Root: filepath.Join(d, "kmodvm")}, nil
}

// lockName is the name of the lock of the layer called name.
func lockName(name string) string { return "initramfs-" + name }

// cached returns the layer stored under name, building it with build (which
// writes the archive to the file it is given) if it is missing. Builders of
// the same layer in other processes wait for each other; a reader never sees
// a partial file.
func (b *Builder) cached(ctx context.Context, name string, build func(ctx context.Context, w *os.File) error) (string, error) {
	cache, err := b.cache()
	if err != nil {
		return "", err
	}
	path := filepath.Join(cache.Layers(), name)
	if err := verifyLayer(path); err == nil {
		cachedir.Touch(path)
		return path, nil
	}
	for _, d := range []string{cache.Layers(), cache.Locks()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("create cache dir: %w", err)
		}
	}
	lock := flock.New(cache.Lock(lockName(name)))
	if _, err := lock.TryLockContext(ctx, lockPoll); err != nil {
		return "", fmt.Errorf("lock %s: %w", name, err)
	}
	defer lock.Unlock()
	if err := verifyLayer(path); err == nil {
		return path, nil
	}
	// A damaged layer's sum goes first: no reader may pair it with the
	// layer built next.
	if err := os.Remove(path + sumSuffix); err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("build layer %s: %w", name, err)
	}
	if err := atomicfile.Write(path, func(f *os.File) error { return build(ctx, f) }); err != nil {
		return "", fmt.Errorf("build layer %s: %w", name, err)
	}
	if err := writeSum(path); err != nil {
		return "", fmt.Errorf("build layer %s: %w", name, err)
	}
	return path, nil
}

// WriteRun writes the per-run layer: cfg at event.ConfigPath. It is tiny
// and never cached.
func WriteRun(path string, cfg event.RunConfig) error {
	cfg.V = event.Version
	data, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return fmt.Errorf("encode run config: %w", err)
	}
	err = atomicfile.Write(path, func(f *os.File) error {
		lw := newLayerWriter(f)
		if err := lw.file(event.ConfigPath, data, 0o644); err != nil {
			return err
		}
		return lw.close()
	})
	if err != nil {
		return fmt.Errorf("write run layer %s: %w", path, err)
	}
	return nil
}

// WriteBinary writes a per-run layer holding the host's file src as the
// executable name (kmodvm fuzz's harness, built for the run); never
// cached.
func WriteBinary(path, name, src string) error {
	return writeFileLayer(path, name, src, 0o755)
}

// WriteData is WriteBinary for a file a binary reads (the input kmodvm
// fuzz --replay runs): not executable.
func WriteData(path, name, src string) error {
	return writeFileLayer(path, name, src, 0o644)
}

// WriteDir writes a per-run layer holding the regular files of the host's
// directory src (not its subdirectories) under the directory name, which
// it holds even when src is empty: kmodvm fuzz's seed corpus.
func WriteDir(path, name, src string) error {
	err := atomicfile.Write(path, func(f *os.File) error {
		lw := newLayerWriter(f)
		if err := lw.dirFiles(name, src); err != nil {
			return err
		}
		return lw.close()
	})
	if err != nil {
		return fmt.Errorf("write layer %s: %w", path, err)
	}
	return nil
}

func writeFileLayer(path, name, src string, perm uint64) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, func(f *os.File) error {
		lw := newLayerWriter(f)
		if err := lw.file(name, data, perm); err != nil {
			return err
		}
		return lw.close()
	})
	if err != nil {
		return fmt.Errorf("write layer %s: %w", path, err)
	}
	return nil
}

// Concat writes the image QEMU boots (it takes a single -initrd) by
// concatenating layers; later layers win where paths collide. The copy uses
// copy_file_range, so it costs little even for large layers.
func Concat(dst string, layers ...string) error {
	err := atomicfile.Write(dst, func(out *os.File) error {
		for _, l := range layers {
			in, err := os.Open(l)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, in)
			in.Close()
			if err != nil {
				return fmt.Errorf("copy %s: %w", l, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("concatenate image %s: %w", dst, err)
	}
	return nil
}

// keyHash accumulates a cache key.
type keyHash struct{ h hash.Hash }

func newKey(parts ...string) *keyHash {
	k := &keyHash{h: sha256.New()}
	k.add(layout)
	for _, p := range parts {
		k.add(p)
	}
	return k
}

// add hashes s with its length, so that parts cannot run into each other.
func (k *keyHash) add(s string) {
	fmt.Fprintf(k.h, "%d:%s\n", len(s), s)
}

// addFile hashes a file's name and content.
func (k *keyHash) addFile(name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(k.h, "file %d:%s %o %d\n", len(name), name, fi.Mode().Perm(), fi.Size())
	_, err = io.Copy(k.h, f)
	return err
}

func (k *keyHash) sum() string { return hex.EncodeToString(k.h.Sum(nil))[:32] }
