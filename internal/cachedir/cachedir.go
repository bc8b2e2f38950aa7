// Package cachedir names the folders of kmodvm's cache ($KMODVM_CACHE) in
// one place: the kernel cache and its providers, the module builds, the
// toolchain userlands, the image layers and the saved VMs each keep their
// files in a folder of it, and `kmodvm kernels prune`, the tests that copy
// a cache and the age-based prunes find them through the same Layout.
package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/kmodvm/kmodvm/internal/privdir"
)

// Env overrides the cache directory.
const Env = "KMODVM_CACHE"

// Default is $KMODVM_CACHE, else $XDG_CACHE_HOME/kmodvm, else
// ~/.cache/kmodvm.
func Default() string {
	if d := os.Getenv(Env); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kmodvm")
	}
	return tempDefault()
}

// tempDefault is the cache of a user with no home: kmodvm-cache-<uid>
// under the temporary directory, a directory of the user's own
// (internal/privdir), since a cache another user could write would feed
// kmodvm their kernels. Where none can be had it is a path under
// /dev/null, so that the first use fails and says where.
var tempDefault = sync.OnceValue(func() string {
	dir, note, err := privdir.In(os.TempDir(), fmt.Sprintf("kmodvm-cache-%d", os.Geteuid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kmodvm: no cache directory: set %s: %v\n", Env, err)
		return filepath.Join(os.DevNull, "kmodvm-cache")
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "kmodvm: note: %s\n", note)
	}
	return dir
})

// Layout is a cache directory and the folders in it. Its methods only name
// paths; each user makes the folders it writes.
type Layout struct {
	Root string
}

// Apt is the private apt state: sources.list, lists/, index.json.
func (l Layout) Apt() string { return filepath.Join(l.Root, "apt") }

// Debs holds verified packages, content-addressed by their SHA-256, while
// fetches unpack them.
func (l Layout) Debs() string { return filepath.Join(l.Root, "debs", "sha256") }

// Kernels holds one entry per kernel, named by the kernel's ID.
func (l Layout) Kernels() string { return filepath.Join(l.Root, "kernels") }

// Kernel is the entry of the kernel whose ID is id.
func (l Layout) Kernel(id string) string { return filepath.Join(l.Kernels(), id) }

// ByABI holds, per kernel release, a link to the release's entry.
func (l Layout) ByABI() string { return filepath.Join(l.Kernels(), "by-abi") }

// Missing holds, per kernel ID, a mark that the kernel's source did not
// serve it.
func (l Layout) Missing() string { return filepath.Join(l.Kernels(), ".missing") }

// DebugInfo holds, per kernel ID, the kernel's debug information kept
// beside its entry.
func (l Layout) DebugInfo() string { return filepath.Join(l.Root, "debuginfo") }

// Toolchains holds the Debian userlands that builds are chrooted into.
func (l Layout) Toolchains() string { return filepath.Join(l.Root, "toolchains") }

// Builds holds the cached module builds.
func (l Layout) Builds() string { return filepath.Join(l.Root, "builds") }

// Layers holds the cached guest image layers.
func (l Layout) Layers() string { return filepath.Join(l.Root, "initramfs") }

// Snapshots holds the saved VMs.
func (l Layout) Snapshots() string { return filepath.Join(l.Root, "snapshots") }

// Locks holds the cross-process lock files.
func (l Layout) Locks() string { return filepath.Join(l.Root, "locks") }

// Lock is the lock file called name.
func (l Layout) Lock(name string) string { return filepath.Join(l.Locks(), name+".lock") }
