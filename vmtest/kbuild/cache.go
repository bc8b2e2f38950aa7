package kbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/internal/digest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/toolchain"
)

// cacheLayout is part of every build key; bump it when what is cached
// changes. Layout 3 added the digests: older entries, which have none, are
// not found and pruned a week later (a module build takes seconds, so
// recording their digests from the files as they are would trust them for
// nothing).
const cacheLayout = "kbuild-cache-3"

// digestsFile holds the SHA-256 and fingerprint of every file of a cached
// build (internal/digest), checked before the build is used.
const digestsFile = "digests"

// buildKey hashes everything a module build depends on: every source file
// (name and content), the kernel's cache key and ABI, the toolchain, and
// the options that change the output.
func buildKey(k *kernel.Kernel, tc *toolchain.Toolchain, o Options) (string, error) {
	h := sha256.New()
	a, err := arch.Lookup(k.Arch)
	if err != nil {
		return "", err
	}
	// The architecture's make arguments change the objects; CROSS_COMPILE
	// is among them only on a foreign host.
	fmt.Fprintf(h, "%s\nkernel %s %s %s\ntoolchain %s\narch %s %q\nargs %q %q %q %q werror %v\n", cacheLayout, k.ID, k.ABI, k.KDir, tc, a, a.MakeArgs(), k.MakeVars, debugArgs(k), coverageArgs(o), o.MakeArgs, o.Werror)
	if k.InPlace {
		// A local tree can be rebuilt in place; its symbols file changes.
		if info, err := os.Stat(filepath.Join(k.KDir, "Module.symvers")); err == nil {
			fmt.Fprintf(h, "symvers %d %d\n", info.Size(), info.ModTime().UnixNano())
		}
	}
	src, err := filepath.Abs(o.Source)
	if err != nil {
		return "", err
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return "", err
	}
	var files []string
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || p == out) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && !isBuildProduct(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(src, p)
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "file %s\n", rel)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// cached is what the build cache keeps of a successful build.
type cached struct {
	Result  Result   `json:"result"`
	Modules []string `json:"modules"` // file names of the .ko files, in Result order
}

// fromCache restores a cached build into out: the .ko files (and a
// Coverage build's .gcno files, at their places) under out/src, the log at
// out/build.log, as a fresh build would leave them.
func fromCache(dir, key, out string) (*Result, error) {
	entry := filepath.Join(dir, key)
	if err := checkEntry(entry); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(entry, "result.json"))
	if err != nil {
		return nil, err
	}
	cachedir.Touch(entry) // used: see Prune
	var c cached
	if err := json.Unmarshal(b, &c); err != nil || len(c.Modules) != len(c.Result.Modules) {
		return nil, fmt.Errorf("build cache %s: corrupt", key)
	}
	log, err := os.ReadFile(filepath.Join(entry, "build.log"))
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	work := filepath.Join(out, "src")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	r := c.Result
	r.Modules = append([]Module(nil), c.Result.Modules...)
	for i, name := range c.Modules {
		dst := filepath.Join(work, name)
		if err := copyFile(filepath.Join(entry, name), dst); err != nil {
			return nil, err
		}
		r.Modules[i].Path = dst
	}
	for _, rel := range r.Notes {
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("build cache %s: corrupt note %q", key, rel)
		}
		dst := filepath.Join(work, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(filepath.Join(entry, "notes", rel), dst); err != nil {
			return nil, err
		}
	}
	r.WorkDir = work
	r.Log = append([]byte("# kmodvm: unchanged since a previous build; its log follows\n"), log...)
	r.LogPath = filepath.Join(out, "build.log")
	r.Duration = 0
	return &r, os.WriteFile(r.LogPath, r.Log, 0o644)
}

// toCache stores a successful build under key, atomically.
func toCache(dir, key string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+key+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c := cached{Result: *r}
	seen := map[string]bool{}
	for _, m := range r.Modules {
		name := filepath.Base(m.Path)
		if seen[name] {
			return fmt.Errorf("two modules named %s", name)
		}
		seen[name] = true
		if err := copyFile(m.Path, filepath.Join(tmp, name)); err != nil {
			return err
		}
		c.Modules = append(c.Modules, name)
	}
	for _, rel := range r.Notes {
		dst := filepath.Join(tmp, "notes", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(r.WorkDir, rel), dst); err != nil {
			return err
		}
	}
	c.Result.Log, c.Result.Duration = nil, time.Duration(0)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "build.log"), r.Log, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "result.json"), b, 0o644); err != nil {
		return err
	}
	if err := recordDigests(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(dir, key)
	if err := os.Rename(tmp, dst); err != nil {
		if _, serr := os.Stat(filepath.Join(dst, "result.json")); serr == nil {
			return nil // another process stored the same build
		}
		return err
	}
	return nil
}

// recordDigests hashes the files of the build entry at dir.
func recordDigests(dir string) error {
	paths, err := digest.List(dir, nil)
	if err != nil {
		return err
	}
	s, err := digest.Make(dir, paths)
	if err != nil {
		return err
	}
	return s.Write(filepath.Join(dir, digestsFile))
}

// checkEntry checks the build entry at dir against its digests. A damaged
// one is removed, so that the build made instead can take its place.
func checkEntry(dir string) error {
	path := filepath.Join(dir, digestsFile)
	s, err := digest.Read(path)
	if err == nil {
		var refreshed bool
		if refreshed, err = s.Check(dir); err == nil {
			if refreshed {
				_ = s.Write(path) // best effort: hashed again next time
			}
			return nil
		}
	}
	if errors.Is(err, digest.ErrDamaged) {
		trash := fmt.Sprintf("%s.damaged-%d", dir, os.Getpid())
		if os.Rename(dir, trash) == nil {
			os.RemoveAll(trash)
		}
		return fmt.Errorf("build cache: %w", err)
	}
	return err
}

// Prune removes cached builds not used for maxAge from the build cache dir.
func Prune(dir string, maxAge time.Duration) (int, error) {
	n, _, err := cachedir.Prune(dir, maxAge, fs.DirEntry.IsDir, os.RemoveAll)
	return n, err
}

// VerifyCache hashes every file of every cached build in dir again,
// whatever the fingerprints say, and returns each entry's key with what is
// wrong with it, or nil. Entries of an older layout, which have no
// digests and are never used, are left out.
func VerifyCache(dir string) (map[string]error, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	out := map[string]error{}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s, err := digest.Read(filepath.Join(dir, e.Name(), digestsFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			_, err = s.Verify(filepath.Join(dir, e.Name()))
		}
		out[e.Name()] = err
	}
	return out, nil
}
