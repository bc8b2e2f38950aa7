package debian

import (
	"errors"
	"strings"
)

// listsOnly lets an update through whose only failures are Packages lists
// the mirror answered 404 for (a mirror that keeps only some
// architectures of a suite): readLists then leaves those architectures'
// kernels of the suite out. err is returned unless that is all it says;
// apt's other verdicts on out, which the failed list hid, are returned as
// apt would.
func listsOnly(out string, err error) (bool, error) {
	if !errors.Is(err, ErrMissing) {
		return false, err
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "Err:") {
			continue
		}
		// "Err:7 <mirror> <suite>/main <architecture> Packages", then
		// "  404  Not Found [IP: ...]".
		f := strings.Fields(l)
		if len(f) != 5 || f[4] != "Packages" || i+1 >= len(lines) || !strings.Contains(lines[i+1], " 404 ") {
			return false, err
		}
	}
	if e := aptExpired(out); e != nil {
		return true, e
	}
	return true, nil
}
