package initramfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/proc"
)

// TestPackage is a Go package whose tests run in the guest.
type TestPackage struct {
	// Dir is the package's directory. Its module (the nearest go.mod above
	// it) may be any module, not only kmodvm.
	Dir string
	// Name names the binary in the image and in reports; empty means the
	// directory's base name.
	Name string
}

// Tests returns one cached layer per package, holding its `go test -c`
// binary at /kmodvm/tests/<name>/<name>.test and its testdata directory
// beside it (the agent runs the binary there, as go test would), and the
// binaries to put in the RunConfig (Timeout left for the caller).
//
// A package's layer is keyed by every file of its module (except .git,
// nested modules and directories the go command ignores), the Go version
// the GOARCH, GOARM and the Go environment, so a warm build never runs the go
// command.
func (b *Builder) Tests(ctx context.Context, pkgs []TestPackage) ([]string, []event.TestBinary, error) {
	goVersion, err := goVersion()
	if err != nil {
		return nil, nil, err
	}
	genv, err := b.goEnv()
	if err != nil {
		return nil, nil, err
	}
	var layers []string
	var bins []event.TestBinary
	seen := map[string]bool{}
	for _, p := range pkgs {
		dir, err := filepath.Abs(p.Dir)
		if err != nil {
			return nil, nil, err
		}
		name := p.Name
		if name == "" {
			name = filepath.Base(dir)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("two test packages named %q: set TestPackage.Name", name)
		}
		seen[name] = true
		layer, err := b.testLayer(ctx, dir, name, goVersion, genv)
		if err != nil {
			return nil, nil, fmt.Errorf("test package %s: %w", p.Dir, err)
		}
		layers = append(layers, layer)
		bins = append(bins, event.TestBinary{Name: name, Path: path.Join(TestsDir, name, name+".test")})
	}
	return layers, bins, nil
}

func (b *Builder) testLayer(ctx context.Context, dir, name, goVersion string, genv []string) (string, error) {
	modRoot, err := findModuleRoot(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(modRoot, dir)
	if err != nil {
		return "", err
	}
	k := newKey("tests", name, filepath.ToSlash(rel), goVersion, strings.Join(genv, " "), goEnv())
	// A cache inside the module must not key the layers it holds.
	c, err := b.cache()
	if err != nil {
		return "", err
	}
	cache, err := filepath.Abs(c.Root)
	if err != nil {
		return "", err
	}
	if err := hashTree(k, modRoot, cache); err != nil {
		return "", fmt.Errorf("hash module %s: %w", modRoot, err)
	}
	return b.cached(ctx, "tests-"+name+"-"+k.sum()+".cpio", func(ctx context.Context, f *os.File) error {
		return buildTestLayer(ctx, f, modRoot, rel, name, genv)
	})
}

func buildTestLayer(ctx context.Context, f *os.File, modRoot, rel, name string, genv []string) error {
	tmp, err := os.MkdirTemp("", "kmodvm-test-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, name+".test")
	// Without the symbol table and DWARF (-s -w) a binary is a third
	// smaller, which the guest unpacks faster on every boot; panics keep
	// their stack traces, which come from the pclntab.
	cmd := proc.Command(ctx, "go", "test", "-c", "-trimpath", "-ldflags=-s -w", "-o", bin, "./"+filepath.ToSlash(rel))
	cmd.Dir = modRoot
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), genv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c: %w\n%s", err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("go test -c wrote no binary (no test files?): %w", err)
	}
	lw := newLayerWriter(f)
	guestDir := path.Join(TestsDir, name)
	if err := lw.copyFile(path.Join(guestDir, name+".test"), bin); err != nil {
		return err
	}
	if err := lw.copyTree(path.Join(guestDir, "testdata"), filepath.Join(modRoot, rel, "testdata")); err != nil {
		return err
	}
	return lw.close()
}

// copyTree adds the regular files under src (if it exists) below name.
func (lw *layerWriter) copyTree(name, src string) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		return lw.copyFile(path.Join(name, filepath.ToSlash(rel)), p)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func findModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above", dir)
		}
	}
}

// hashTree hashes the files of the module rooted at root, in walk order
// (which is lexical), skipping what cannot be part of its build: version
// control data, nested modules and directories whose names start with '.'
// or '_'; and skip, a directory that is not part of the module.
func hashTree(k *keyHash, root, skip string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if p == root {
				return nil
			}
			if p == skip {
				return filepath.SkipDir
			}
			if n := d.Name(); strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			k.add("other " + filepath.ToSlash(rel))
			return nil
		}
		return k.addFile(filepath.ToSlash(rel), p)
	})
}
