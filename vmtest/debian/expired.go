package debian

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ErrExpired means the mirror served an index past its Valid-Until date.
var ErrExpired = errors.New("the mirror's index has expired")

// ExpiredError names the suites whose Release file apt refused as past
// its Valid-Until date, and says what to do; it wraps ErrExpired.
type ExpiredError struct {
	Suites []string
	what   []string // "<InRelease URL> expired <how long> ago"
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%v: %s (its Valid-Until date): an index that old can be replayed by the mirror or anyone between to hide newer builds, so it is refused. Use an up-to-date mirror (set %s), or, for a mirror pinned to a date on purpose (snapshot.debian.org), set %s=1",
		ErrExpired, strings.Join(e.what, ", "), EnvMirror, EnvAllowExpired)
}

func (e *ExpiredError) Unwrap() error { return ErrExpired }

// expiredRelease is apt's message for a Release file past its date.
var expiredRelease = regexp.MustCompile(`Release file for (\S+/dists/([^/\s]+)/\S*) is expired \(invalid since ([^)]*)\)`)

// aptExpired returns the suites of apt's output whose Release file was
// refused as expired, or nil.
func aptExpired(out string) *ExpiredError {
	var e ExpiredError
	for _, m := range expiredRelease.FindAllStringSubmatch(out, -1) {
		if !slices.Contains(e.Suites, m[2]) {
			e.Suites = append(e.Suites, m[2])
			e.what = append(e.what, m[1]+" expired "+m[3]+" ago")
		}
	}
	if len(e.Suites) == 0 {
		return nil
	}
	return &e
}

// freshOnly lets an update through whose expired suites are only some of
// suites: their kernels are left out of the index, the others used. It
// returns the expired suites (nil if none) and err unless that is all it
// says.
func freshOnly(err error, suites []string) (expired *ExpiredError, rest error) {
	if !errors.As(err, &expired) {
		return nil, err
	}
	if len(expired.Suites) >= len(suites) {
		return expired, err
	}
	return expired, nil
}

// expiredAmong reports whether a package of pkgs comes from a suite of
// expired.
func expiredAmong(pkgs []Package, expired []string) bool {
	return slices.ContainsFunc(pkgs, func(p Package) bool { return slices.Contains(expired, p.Suite) })
}
