package digest

import (
	"bufio"
	"bytes"
	"encoding/hex"
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
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() || sc.Text() != header {
		return nil, fmt.Errorf("not a digest file (no %q line)", header)
	}
	s := &Set{Files: make([]File, 0, bytes.Count(data, []byte{'\n'}))}
	for n := 2; sc.Scan(); n++ {
		f, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		s.Files = append(s.Files, f)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("cut short")
	}
	return s, nil
}

func parseLine(line string) (File, error) {
	var f File
	fields := make([]string, 5)
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
	if n, err := hex.Decode(f.Sum[:], []byte(fields[0])); err != nil || n != len(f.Sum) || len(fields[0]) != 2*len(f.Sum) {
		return f, fmt.Errorf("bad digest %q", fields[0])
	}
	nums := make([]int64, 4)
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
