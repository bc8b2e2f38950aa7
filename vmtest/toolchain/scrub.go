package toolchain

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// scrub removes dir, a userland debootstrap was making, whatever an
// earlier attempt left in it. debootstrap mounts /proc in its target for
// the second stage: one killed there (a SIGKILLed kmodvm, a machine
// stopped mid-run) leaves that mount behind, os.RemoveAll cannot remove a
// mount point, and every later debootstrap into the same directory fails.
// So the mounts under dir go first, deepest first, detached.
func scrub(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("%s is still mounted from an earlier debootstrap and cannot be unmounted (%v): run umount -l %s", m, err, m)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the unfinished userland %s: %w", dir, err)
	}
	return nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountsUnder(bufio.NewScanner(f), filepath.Clean(dir))
}

// parseMountsUnder reads mountinfo lines (proc(5): the fifth field is the
// mount point, with spaces and the like octal-escaped) and returns those at
// or below dir, deepest first.
func parseMountsUnder(s *bufio.Scanner, dir string) ([]string, error) {
	var out []string
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, s.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
