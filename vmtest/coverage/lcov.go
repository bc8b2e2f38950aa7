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
	var cur *File
	fnStart := map[string]int{}
	lines := map[int]int{} // line number -> index in cur.Lines
	line := func(n int) *Line {
		i, ok := lines[n]
		if !ok {
			i = len(cur.Lines)
			lines[n] = i
			cur.Lines = append(cur.Lines, Line{Number: n})
		}
		return &cur.Lines[i]
	}
	n := 0
	for sc.Scan() {
		n++
		tag, val, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		bad := func(what string) error { return fmt.Errorf("lcov line %d: bad %s record %q", n, what, sc.Text()) }
		if tag != "SF" && tag != "TN" && tag != "end_of_record" && tag != "" && cur == nil {
			if known(tag) {
				return nil, fmt.Errorf("lcov line %d: %s record outside a file (no SF)", n, tag)
			}
			continue
		}
		switch tag {
		case "SF":
			if cur != nil {
				return nil, fmt.Errorf("lcov line %d: SF inside the record of %s", n, cur.Path)
			}
			if val == "" {
				return nil, bad(tag)
			}
			cur, fnStart, lines = &File{Path: val}, map[string]int{}, map[int]int{}
		case "end_of_record":
			if cur != nil {
				files = append(files, *cur)
				cur = nil
			}
		case "FN": // FN:<start>,<name> or FN:<start>,<end>,<name>
			f := strings.SplitN(val, ",", 3)
			start, err := strconv.Atoi(f[0])
			if len(f) < 2 || err != nil || start < 0 {
				return nil, bad(tag)
			}
			fn := Function{Name: f[len(f)-1], Start: start}
			if len(f) == 3 {
				if fn.End, err = strconv.Atoi(f[1]); err != nil {
					return nil, bad(tag)
				}
			}
			if _, ok := fnStart[fn.Name]; !ok {
				fnStart[fn.Name] = len(cur.Functions)
				cur.Functions = append(cur.Functions, fn)
			}
		case "FNDA":
			c, name, ok := strings.Cut(val, ",")
			count, err := strconv.ParseInt(c, 10, 64)
			i, known := fnStart[name]
			if !ok || err != nil || count < 0 || !known {
				return nil, bad(tag)
			}
			cur.Functions[i].Count = sum(cur.Functions[i].Count, count)
		case "DA":
			f := strings.Split(val, ",")
			ln, err1 := strconv.Atoi(f[0])
			if len(f) < 2 || err1 != nil || ln <= 0 {
				return nil, bad(tag)
			}
			count, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || count < 0 {
				return nil, bad(tag)
			}
			l := line(ln)
			l.Count = sum(l.Count, count)
		case "BRDA": // BRDA:<line>,<block>,<branch>,<taken or ->
			f := strings.Split(val, ",")
			if len(f) != 4 {
				return nil, bad(tag)
			}
			ln, err1 := strconv.Atoi(f[0])
			_, err2 := strconv.Atoi(f[1])
			br, err3 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil || err3 != nil || ln <= 0 || br < 0 || br > 1<<16 {
				return nil, bad(tag)
			}
			var taken int64
			if f[3] != "-" {
				var err error
				if taken, err = strconv.ParseInt(f[3], 10, 64); err != nil || taken < 0 {
					return nil, bad(tag)
				}
			}
			l := line(ln)
			for len(l.Branches) <= br {
				l.Branches = append(l.Branches, 0)
			}
			l.Branches[br] = sum(l.Branches[br], taken)
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

// known reports whether tag is a record ParseLCOV reads.
func known(tag string) bool {
	switch tag {
	case "FN", "FNDA", "DA", "BRDA":
		return true
	}
	return false
}
