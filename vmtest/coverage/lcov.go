package coverage

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteLCOV writes files as an lcov tracefile (the format of geninfo(1),
// read by genhtml and lcov --summary) under the test name test. Records
// are the classic ones, without lcov 2's additions: FN:<line>,<name>,
// FNDA, BRDA with block 0, DA, and the counts (lcov 1.16 reads them).
func WriteLCOV(w io.Writer, test string, files []File) error {
	bw := bufio.NewWriter(w)
	for _, f := range files {
		s := f.Summary()
		fmt.Fprintf(bw, "TN:%s\nSF:%s\n", lcovName(test), lcovField(f.Path))
		for _, fn := range f.Functions {
			fmt.Fprintf(bw, "FN:%d,%s\n", fn.Start, lcovName(fn.Name))
		}
		for _, fn := range f.Functions {
			fmt.Fprintf(bw, "FNDA:%d,%s\n", fn.Count, lcovName(fn.Name))
		}
		fmt.Fprintf(bw, "FNF:%d\nFNH:%d\n", s.Functions, s.FunctionsHit)
		for _, l := range f.Lines {
			for i, b := range l.Branches {
				taken := strconv.FormatInt(b, 10)
				if l.Count == 0 && b == 0 {
					taken = "-" // the branch's block never ran
				}
				fmt.Fprintf(bw, "BRDA:%d,0,%d,%s\n", l.Number, i, taken)
			}
		}
		fmt.Fprintf(bw, "BRF:%d\nBRH:%d\n", s.Branches, s.BranchesHit)
		for _, l := range f.Lines {
			fmt.Fprintf(bw, "DA:%d,%d\n", l.Number, l.Count)
		}
		fmt.Fprintf(bw, "LF:%d\nLH:%d\nend_of_record\n", s.Lines, s.LinesHit)
	}
	return bw.Flush()
}

// lcovField keeps a value on its line, as ParseLCOV reads it back.
func lcovField(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\n", " ", "\r", " ").Replace(s))
}

// lcovName keeps a name in its comma-separated field too.
func lcovName(s string) string {
	return strings.ReplaceAll(lcovField(s), ",", "_")
}

// ParseLCOV reads an lcov tracefile: the records WriteLCOV writes and
// those of geninfo, lcov and other tools (FN with an end line, checksums on
// DA lines); records it does not know are skipped. Several records of one
// file (several tests, several kernels) are summed.
func ParseLCOV(r io.Reader) ([]File, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var files []File
	var cur *lcovFile
	n := 0
	for sc.Scan() {
		n++
		tag, val, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		bad := func() error { return fmt.Errorf("lcov line %d: bad %s record %q", n, tag, sc.Text()) }
		switch {
		case tag == "SF":
			if cur != nil {
				return nil, fmt.Errorf("lcov line %d: SF inside the record of %s", n, cur.Path)
			}
			if val == "" {
				return nil, bad()
			}
			cur = newLCOVFile(val)
		case tag == "end_of_record":
			if cur != nil {
				files = append(files, cur.File)
				cur = nil
			}
		case cur != nil:
			if !cur.add(tag, val) {
				return nil, bad()
			}
		case known(tag):
			return nil, fmt.Errorf("lcov line %d: %s record outside a file (no SF)", n, tag)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lcov: %w", err)
	}
	if cur != nil {
		return nil, fmt.Errorf("lcov: the record of %s has no end_of_record", cur.Path)
	}
	return Merge(files), nil
}

// lcovFile is the record of one file ParseLCOV is reading.
type lcovFile struct {
	File
	fnStart map[string]int // function name -> index in Functions
	lines   map[int]int    // line number -> index in Lines
}

func newLCOVFile(path string) *lcovFile {
	return &lcovFile{File: File{Path: path}, fnStart: map[string]int{}, lines: map[int]int{}}
}

// line returns line n's entry, added when it is the first record of it.
func (f *lcovFile) line(n int) *Line {
	i, ok := f.lines[n]
	if !ok {
		i = len(f.Lines)
		f.lines[n] = i
		f.Lines = append(f.Lines, Line{Number: n})
	}
	return &f.Lines[i]
}

// add reads one record of the file's; it reports false for a malformed
// one. Records it does not know are skipped.
func (f *lcovFile) add(tag, val string) bool {
	switch tag {
	case "FN":
		return f.addFN(val)
	case "FNDA":
		return f.addFNDA(val)
	case "DA":
		return f.addDA(val)
	case "BRDA":
		return f.addBRDA(val)
	}
	return true
}

// addFN reads FN:<start>,<name> or FN:<start>,<end>,<name>.
func (f *lcovFile) addFN(val string) bool {
	v := strings.SplitN(val, ",", 3)
	start, err := strconv.Atoi(v[0])
	if len(v) < 2 || err != nil || start < 0 {
		return false
	}
	fn := Function{Name: v[len(v)-1], Start: start}
	if len(v) == 3 {
		if fn.End, err = strconv.Atoi(v[1]); err != nil {
			return false
		}
	}
	if _, ok := f.fnStart[fn.Name]; !ok {
		f.fnStart[fn.Name] = len(f.Functions)
		f.Functions = append(f.Functions, fn)
	}
	return true
}

// addFNDA reads FNDA:<count>,<name> of a function FN named.
func (f *lcovFile) addFNDA(val string) bool {
	c, name, ok := strings.Cut(val, ",")
	count, err := strconv.ParseInt(c, 10, 64)
	i, known := f.fnStart[name]
	if !ok || err != nil || count < 0 || !known {
		return false
	}
	f.Functions[i].Count = sum(f.Functions[i].Count, count)
	return true
}

// addDA reads DA:<line>,<count>[,<checksum>].
func (f *lcovFile) addDA(val string) bool {
	v := strings.Split(val, ",")
	ln, err1 := strconv.Atoi(v[0])
	if len(v) < 2 || err1 != nil || ln <= 0 {
		return false
	}
	count, err := strconv.ParseInt(v[1], 10, 64)
	if err != nil || count < 0 {
		return false
	}
	l := f.line(ln)
	l.Count = sum(l.Count, count)
	return true
}

// addBRDA reads BRDA:<line>,<block>,<branch>,<taken or ->.
func (f *lcovFile) addBRDA(val string) bool {
	v := strings.Split(val, ",")
	if len(v) != 4 {
		return false
	}
	ln, err1 := strconv.Atoi(v[0])
	_, err2 := strconv.Atoi(v[1])
	br, err3 := strconv.Atoi(v[2])
	if err1 != nil || err2 != nil || err3 != nil || ln <= 0 || br < 0 || br > 1<<16 {
		return false
	}
	var taken int64
	if v[3] != "-" {
		var err error
		if taken, err = strconv.ParseInt(v[3], 10, 64); err != nil || taken < 0 {
			return false
		}
	}
	l := f.line(ln)
	for len(l.Branches) <= br {
		l.Branches = append(l.Branches, 0)
	}
	l.Branches[br] = sum(l.Branches[br], taken)
	return true
}

// known reports whether tag is a record ParseLCOV reads.
func known(tag string) bool {
	switch tag {
	case "FN", "FNDA", "DA", "BRDA":
		return true
	}
	return false
}
