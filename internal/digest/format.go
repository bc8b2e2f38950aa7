package digest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
)

// header is a digest file's first line. The format is text, one file a
// line: its digest, size, inode, modification and change times, and path
// last (a path may hold spaces, never a newline). A kernel entry's file
// of 14,000 lines parses in a few milliseconds, where JSON took tens.
const header = "kmodvm-digests 1"

// Write stores s at path, atomically.
func (s *Set) Write(path string) error {
	var b bytes.Buffer
	b.Grow(len(s.Files) * 160)
	b.WriteString(header + "\n")
	for _, f := range s.Files {
		if strings.ContainsRune(f.Path, '\n') {
			return fmt.Errorf("digest: a newline in %q", f.Path)
		}
		fmt.Fprintf(&b, "%s %d %d %d %d %s\n", hexSum(f.Sum), f.FP.Size, f.FP.Ino, f.FP.Mtime, f.FP.Ctime, f.Path)
	}
	return atomicfile.WriteBytes(path, b.Bytes())
}

// Read loads the set stored at path. A file that is not one (cut short,
// garbled) is an error wrapping ErrDamaged: what it guarded cannot be
// trusted.
func Read(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parse(data)
	if err != nil {
		return nil, &Damage{Root: path, Files: []string{err.Error()}}
	}
	return s, nil
}

func parse(data []byte) (*Set, error) {
	// One string for the whole file: the lines, fields and paths are
	// slices of it, allocated once.
	text := string(data)
	first, rest, _ := strings.Cut(text, "\n")
	if first != header {
		return nil, fmt.Errorf("not a digest file (no %q line)", header)
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("cut short")
	}
	s := &Set{Files: make([]File, 0, strings.Count(rest, "\n"))}
	for n := 2; rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		f, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		s.Files = append(s.Files, f)
	}
	return s, nil
}

func parseLine(line string) (File, error) {
	var f File
	var fields [5]string
	rest := line
	for i := range fields {
		var ok bool
		if fields[i], rest, ok = strings.Cut(rest, " "); !ok {
			return f, fmt.Errorf("%d fields, want 6", i+1)
		}
	}
	if rest == "" {
		return f, fmt.Errorf("no path")
	}
	f.Path = rest
	if !decodeHex(f.Sum[:], fields[0]) {
		return f, fmt.Errorf("bad digest %q", fields[0])
	}
	var nums [4]int64
	for i := range nums {
		v, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return f, err
		}
		nums[i] = v
	}
	f.FP = Fingerprint{Size: nums[0], Ino: uint64(nums[1]), Mtime: nums[2], Ctime: nums[3]}
	return f, nil
}

// decodeHex decodes the lower-case hex string s, exactly len(dst) bytes,
// into dst.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
