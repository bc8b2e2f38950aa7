package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/kmodvm/kmodvm/vmtest/debian"
)

// A Provider is one way to get a kernel: Debian's archive, a user's own
// tree, a build from source. Every provider's kernels end up as the same
// Kernel (and, unless used in place, the same kind of cache entry), so the
// rest of kmodvm never asks where a kernel came from.
type Provider interface {
	// Name names the provider in IDs, manifests and reports.
	Name() string
	// Accepts reports whether sel names one of this provider's kernels.
	Accepts(sel Selector) bool
	// Resolve names the one kernel sel means without fetching or building
	// it. A selector that matches nothing gives an error wrapping
	// ErrNotFound.
	Resolve(ctx context.Context, sel Selector) (*Spec, error)
	// Make produces the kernel spec describes. For a cached kernel dir is a
	// new, empty directory that becomes the cache entry when Make returns,
	// and every path of the returned Kernel lies under it; for a kernel
	// used in place (Spec.InPlace) dir is empty.
	Make(ctx context.Context, spec *Spec, dir string) (*Kernel, error)
}

// A Tailor is a provider whose kernels can be made to order for the
// modules under test: a minimal kernel built from source must build the
// in-kernel modules (videodev, crc-itu-t) that a stock kernel ships and the
// user's modules need.
type Tailor interface {
	// Tailor returns spec changed to provide the named in-kernel modules;
	// its ID changes with them.
	Tailor(spec *Spec, modules []string) (*Spec, error)
}

// A DebugSource is a provider that publishes its kernels' debug
// information apart from them (Debian's -dbg packages), which
// Fetcher.DebugInfo keeps beside their cache entries.
type DebugSource interface {
	// MakeDebugInfo puts the debug information of k, one of its kernels,
	// into the empty directory dir: a vmlinux with DWARF and, if it has
	// one, the real System.map, named by the DebugInfo returned relative
	// to dir. An error wrapping ErrNoDebugInfo means there is none to be
	// had.
	MakeDebugInfo(ctx context.Context, k *Kernel, dir string) (*DebugInfo, error)
}

// An EntryLayout is a provider whose cache entries of an older layout
// are stale: the Fetcher refuses them (they are made again, and listed
// as unusable), while other providers' entries of that layout still
// serve.
type EntryLayout interface {
	// OldestLayout is the oldest entry layout still used for the
	// provider's kernels.
	OldestLayout() int
}

// ErrUnavailable means a provider's source does not serve a kernel it
// lists: a mirror that answers 404 for the packages of a build its index
// names. The Fetcher then makes the spec's Fallback instead.
var ErrUnavailable = errors.New("the mirror does not serve the kernel's files")

// Unavailable marks err, why a provider could not get a kernel its source
// lists, as ErrUnavailable; the message stays err's.
func Unavailable(err error) error { return unavailable{err} }

type unavailable struct{ error }

func (u unavailable) Unwrap() []error { return []error{u.error, ErrUnavailable} }

// Spec is a resolved kernel: everything that identifies it, before it is
// fetched or built.
type Spec struct {
	// Provider is the Name of the provider that resolved it.
	Provider string `json:"provider"`
	// Arch is the Debian name of the kernel's architecture.
	Arch string `json:"arch"`
	// Name is how reports name the kernel; ABI is its release, when known
	// before it exists (uname -r).
	Name string `json:"name"`
	ABI  string `json:"abi,omitempty"`
	// Series ("6.1"), Flavour (Debian's), Variant ("", "debug", "kcsan")
	// and Version (the Debian package version) describe it for people.
	Series  string `json:"series,omitempty"`
	Flavour string `json:"flavour,omitempty"`
	Variant string `json:"variant,omitempty"`
	Version string `json:"version,omitempty"`
	// Inputs are what the kernel is made of (package checksums, a source
	// version and config, a tree's identity), in order. Two specs with the
	// same provider, arch and inputs are the same kernel.
	Inputs []string `json:"inputs"`
	// InPlace kernels are used where they are, never copied into the cache
	// (a user's own tree, which may change between runs).
	InPlace bool `json:"in_place,omitempty"`
	// Packages are the Debian packages Make downloads, if any.
	Packages []debian.Package `json:"packages,omitempty"`
	// Debian is the Debian build the kernel is or follows: the stock
	// kernel of its series for a kernel built from source.
	Debian *Build `json:"debian,omitempty"`
	// Path and KDir locate a kernel used in place.
	Path string `json:"path,omitempty"`
	KDir string `json:"kdir,omitempty"`
	// Config holds options the kernel is known to have before it is made
	// (a source build's fragments, which its build checks), as a .config
	// says them ("CONFIG_GCOV_KERNEL" -> "y"); an option it lacks is
	// known only from the made kernel's config.
	Config map[string]string `json:"config,omitempty"`
	// Fallback is the kernel to make instead when this one's packages
	// cannot be had from the mirror (ErrUnavailable): for a selector
	// naming a series, the series' next older build. Not part of the ID.
	Fallback *Spec `json:"-"`
	// Stock is the spec of the stock kernel this one follows, resolved
	// with it (a source build's Debian kernel, whose config says how to
	// build the in-kernel modules it is tailored to have). Not part of
	// the ID.
	Stock *Spec `json:"-"`
	// Modules are in-kernel modules the kernel must provide (see Tailor).
	Modules []string `json:"modules,omitempty"`
	// Note is something the user should know about this kernel ("built
	// from 6.1.190: 6.1.192's source is not in the archive").
	Note string `json:"note,omitempty"`
}

// ID is the kernel's identity: a hash of its provider, architecture and
// inputs. It keys the cache, the run's output directories and reports.
func (s *Spec) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "kernel v%d\nprovider %s\narch %s\n", manifestVersion, s.Provider, s.Arch)
	for _, in := range s.Inputs {
		fmt.Fprintf(h, "%s\n", in)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Build is one Debian kernel build and the packages it is made of: the image
// (linux-image-*-unsigned, or linux-binary-* with linux-modules-* and
// linux-base-* from 6.19 on) and its headers (arch and common headers and the
// matching linux-kbuild).
type Build struct {
	ABI     string `json:"abi"`
	Series  string `json:"series"`
	Flavour string `json:"flavour"`
	// Arch is the kernel's Debian architecture; empty means arch.Default.
	Arch     string           `json:"arch,omitempty"`
	Version  string           `json:"version"`  // Debian version: 6.1.192-3
	Upstream string           `json:"upstream"` // 6.1.192
	Suite    string           `json:"suite"`
	Packages []debian.Package `json:"packages"`
}

// ErrNotFound means no kernel matches a selector.
var ErrNotFound = errors.New("no such kernel")

// LackError is an ErrNotFound for a kernel an architecture lacks (Debian
// builds no i386 6.12), said two ways: Error in full, for a run of one
// architecture, where the selector is a mistake to fix; Short in a line,
// for a run of several, where it is one skipped cell of a grid.
type LackError struct {
	// Short is the line: "Debian has no i386 kernel for 6.12; newest 6.1".
	Short string
	// Detail is the full message, without ErrNotFound's words.
	Detail string
}

func (e *LackError) Error() string { return ErrNotFound.Error() + ": " + e.Detail }

// Unwrap makes a LackError an ErrNotFound.
func (e *LackError) Unwrap() error { return ErrNotFound }

// ShortLack returns the one-line reason of the LackError in err's chain,
// or ok false when there is none.
func ShortLack(err error) (short string, ok bool) {
	var l *LackError
	if errors.As(err, &l) {
		return l.Short, true
	}
	return "", false
}

// SplitABI returns the series and the flavour of a Debian kernel release
// ("6.1.0-57-" + flavour: "6.1" and the flavour); ok is false when abi is
// none.
func SplitABI(abi string) (series, flavour string, ok bool) {
	m := abiRe.FindStringSubmatch(abi)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
