package debian

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Keyring is the archive keyring apt verifies the suites' Release files with.
// Debian's debian-archive-keyring package provides it.
const Keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// kernelPackage matches the packages a kernel is made of, and the patched
// sources (linux-source-6.1) kernels are built from.
var kernelPackage = regexp.MustCompile(`^linux-(image|binary|modules|base|headers|kbuild|source)-[0-9]`)

// indexFormat changes when what an Index holds changes (2: sources, 3:
// every architecture of Architectures), so that an index made by an older
// kmodvm is made again.
const indexFormat = 3

// Architectures are the Debian architectures whose kernels the index
// holds: the host's (arch.Host) first, whose programs the tools a kernel's
// headers run (linux-kbuild's fixdep, modpost, objtool) are.
func Architectures() []string {
	out := []string{arch.Host()}
	for _, a := range arch.All() {
		if a.Debian != out[0] {
			out = append(out, a.Debian)
		}
	}
	return out
}

// IsKernelPackage reports whether name is one of the packages an Archive
// indexes.
func IsKernelPackage(name string) bool { return kernelPackage.MatchString(name) }

// Archive is Debian's archive as seen through apt with a private
// configuration rooted at Dir.
type Archive struct {
	// Dir holds the private apt configuration, lists, downloads and index.
	Dir string
	// Mirrors to use; the zero value means HostMirrors().
	Mirrors Mirrors
	// Suites to index; nil means Suites().
	Suites []string
	// Keyring verifies the suites' Release files; empty means Keyring.
	Keyring string
	// Log receives apt's output; nil discards it.
	Log io.Writer
	// Progress, if set, is called while Download fetches packages, with
	// the bytes fetched so far and the bytes it fetches in all. apt reports
	// a percentage (per file on a fast mirror), so done is its estimate.
	Progress func(done, total int64)
}

// Index is the set of kernel packages the archive offered at Updated.
type Index struct {
	Format  int       `json:"format"`
	Updated time.Time `json:"updated"`
	Mirrors Mirrors   `json:"mirrors"`
	// Architectures are those whose lists it read (Architectures() when
	// it was made): an index older than an architecture lacks its
	// kernels.
	Architectures []string  `json:"architectures"`
	Packages      []Package `json:"packages"`
	// Expired says which suites' indexes were past their Valid-Until
	// date at Updated, and what to do; their kernels are left out.
	Expired string `json:"expired,omitempty"`
	// Missing says which suites' lists of which architectures the
	// mirror did not serve; their kernels are left out.
	Missing string `json:"missing,omitempty"`
}

// Lookup returns every indexed version of the named package, newest first.
func (ix *Index) Lookup(name string) []Package {
	var out []Package
	for _, p := range ix.Packages {
		if p.Name == name {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return CompareVersions(out[i].Version, out[j].Version) > 0 })
	return out
}

func (a *Archive) keyring() string {
	if a.Keyring != "" {
		return a.Keyring
	}
	return Keyring
}

func (a *Archive) suites() []string {
	if a.Suites != nil {
		return a.Suites
	}
	return Suites()
}

func (a *Archive) mirrors() (Mirrors, error) {
	if a.Mirrors.Main != "" {
		m := a.Mirrors
		if m.Security == "" {
			m.Security = strings.TrimSuffix(m.Main, "/debian") + "/debian-security"
		}
		return m, nil
	}
	return HostMirrors()
}

func (a *Archive) indexPath() string { return filepath.Join(a.Dir, "index.json") }

// lock serializes apt runs on this archive across processes.
func (a *Archive) lock(ctx context.Context) (*flock.Flock, error) {
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return nil, err
	}
	l := flock.New(filepath.Join(a.Dir, "lock"))
	if _, err := l.TryLockContext(ctx, 100*time.Millisecond); err != nil {
		return nil, fmt.Errorf("lock %s: %w", a.Dir, err)
	}
	return l, nil
}

// begin prepares an apt run: it finds the mirrors, takes the archive's
// lock and writes the private configuration, returning its path and the
// function that releases the lock.
func (a *Archive) begin(ctx context.Context) (Mirrors, string, func(), error) {
	m, err := a.mirrors()
	if err != nil {
		return m, "", nil, err
	}
	l, err := a.lock(ctx)
	if err != nil {
		return m, "", nil, err
	}
	conf, err := a.writeConfig(m)
	if err != nil {
		l.Unlock()
		return m, "", nil, err
	}
	return m, conf, func() { l.Unlock() }, nil
}

// Current reports whether ix can be used as it is: made for the mirrors
// and architectures in force now, and younger than maxAge.
func (a *Archive) Current(ix *Index, maxAge time.Duration) bool {
	m, err := a.mirrors()
	return err == nil && ix.Format == indexFormat && ix.Mirrors == m && slices.Equal(ix.Architectures, Architectures()) &&
		time.Since(ix.Updated) < maxAge
}

// CachedIndex returns the cached index without touching the network.
func (a *Archive) CachedIndex() (*Index, error) { return a.readIndex() }

func (a *Archive) readIndex() (*Index, error) {
	b, err := os.ReadFile(a.indexPath())
	if err != nil {
		return nil, err
	}
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("%s: %w", a.indexPath(), err)
	}
	return &ix, nil
}

// Update runs apt-get update with the private configuration and rebuilds
// the index of kernel packages from the lists it fetched.
func (a *Archive) Update(ctx context.Context) (*Index, error) {
	m, conf, unlock, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out, err := a.apt(ctx, conf, "", nil, "apt-get", "update")
	partial, err := listsOnly(out, err)
	expired, err := freshOnly(err, a.suites())
	if err != nil {
		return nil, fmt.Errorf("apt-get update (mirror %s): %w", m.Main, err)
	}
	if cause := aptFailure(out); cause != "" && !partial {
		return nil, fmt.Errorf("%w: %s (check the network, or set %s)", ErrUnreachable, cause, EnvMirror)
	}
	ix := &Index{Format: indexFormat, Updated: time.Now().UTC(), Mirrors: m, Architectures: Architectures()}
	if expired != nil {
		ix.Expired = expired.Error()
	}
	var missing []string
	for _, suite := range a.suites() {
		if expired != nil && slices.Contains(expired.Suites, suite) {
			continue // its lists, old or replayed, are not taken
		}
		pkgs, absent, err := a.readLists(suite, partial)
		if err != nil {
			return nil, err
		}
		missing = append(missing, absent...)
		ix.Packages = append(ix.Packages, pkgs...)
	}
	if len(missing) > 0 {
		ix.Missing = fmt.Sprintf("%v: the Packages lists of %s", ErrMissing, strings.Join(missing, ", "))
	}
	if len(ix.Packages) == 0 {
		return nil, fmt.Errorf("apt-get update fetched no kernel packages from %s", m.Main)
	}
	b, err := json.Marshal(ix)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(a.indexPath(), b); err != nil {
		return nil, err
	}
	return ix, nil
}

// readLists parses the Packages lists apt stored for suite, one per
// architecture. A list of another architecture than the host's that the
// mirror did not serve is left out, and named ("<suite> <architecture>")
// in absent. The host's list is needed (its linux-kbuild builds every
// module): without it the suite is left out when the mirror answered 404
// for some list (partial; apt then takes none of a suite it had no lists
// of before), and is an error otherwise.
func (a *Archive) readLists(suite string, partial bool) (pkgs []Package, absent []string, err error) {
	var files []string
	for i, da := range Architectures() {
		pattern := filepath.Join(a.Dir, "lists", "*_dists_"+suite+"_main_binary-"+da+"_Packages")
		found, _ := filepath.Glob(pattern)
		switch {
		case len(found) == 0 && i == 0 && partial:
			return nil, []string{suite}, nil
		case len(found) == 0 && i > 0:
			absent = append(absent, suite+" "+da)
			continue
		}
		if len(found) == 0 {
			return nil, nil, fmt.Errorf("apt-get update left no Packages list for %s (%s)", suite, pattern)
		}
		files = append(files, found...)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, nil, err
		}
		got, err := ParsePackages(fh, suite, IsKernelPackage)
		fh.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		pkgs = append(pkgs, got...)
	}
	return pkgs, absent, nil
}

// ErrChecksum means a downloaded package does not match the archive's
// checksum.
var ErrChecksum = errors.New("checksum mismatch")

// Download fetches pkgs with apt-get download and stores each, verified
// against its SHA-256, as dir/<sha256>.deb. It returns their paths in the
// order of pkgs. Packages already in dir and intact are not downloaded.
func (a *Archive) Download(ctx context.Context, dir string, pkgs []Package) ([]string, error) {
	paths := make([]string, len(pkgs))
	var missing []Package
	for i, p := range pkgs {
		paths[i] = filepath.Join(dir, p.SHA256+".deb")
		if err := VerifyFile(paths[i], p.Size, p.SHA256); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return paths, nil
	}
	m, conf, unlock, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !a.haveLists(missing) {
		// apt-get download finds packages through the lists; an apt of
		// another configuration sharing the directory (an older kmodvm,
		// amd64 only) drops the lists of the architectures it does not
		// know.
		_, err := a.apt(ctx, conf, "", nil, "apt-get", "update")
		if expired, _ := freshOnly(err, a.suites()); expired != nil && !expiredAmong(missing, expired.Suites) {
			err = nil // the packages' own suites are fresh
		}
		if err != nil {
			return nil, fmt.Errorf("apt-get update (mirror %s): %w", m.Main, err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Join(a.Dir, "cache"), "download-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{"download"}
	for _, p := range missing {
		args = append(args, p.aptName())
	}
	if _, err := a.apt(ctx, conf, tmp, a.downloadProgress(missing), "apt-get", args...); err != nil {
		return nil, fmt.Errorf("apt-get download: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, p := range missing {
		got := filepath.Join(tmp, debFileName(p))
		if err := VerifyFile(got, p.Size, p.SHA256); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := os.Rename(got, filepath.Join(dir, p.SHA256+".deb")); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// haveLists reports whether apt's lists of every suite and architecture of
// pkgs are there.
func (a *Archive) haveLists(pkgs []Package) bool {
	for _, p := range pkgs {
		if p.Arch == "" || p.Arch == "all" {
			continue
		}
		pattern := filepath.Join(a.Dir, "lists", "*_dists_"+p.Suite+"_main_binary-"+p.Arch+"_Packages")
		if found, _ := filepath.Glob(pattern); len(found) == 0 {
			return false
		}
	}
	return true
}

// downloadProgress turns apt's percentage into bytes of pkgs for
// a.Progress, or returns nil when nobody listens.
func (a *Archive) downloadProgress(pkgs []Package) func(float64) {
	if a.Progress == nil {
		return nil
	}
	var total int64
	for _, p := range pkgs {
		total += p.Size
	}
	a.Progress(0, total)
	return func(percent float64) { a.Progress(int64(percent*float64(total)/100), total) }
}

// debFileName is the name apt-get download gives a package's file.
func debFileName(p Package) string {
	return filepath.Base(p.Filename)
}
