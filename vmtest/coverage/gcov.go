package coverage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// gcovOutput is one document of `gcov --json-format --stdout` (gcc 9 and
// later; format_version 1 up to gcc 13, 2 from gcc 14, which adds fields
// this reader does not need).
type gcovOutput struct {
	FormatVersion string `json:"format_version"`
	CWD           string `json:"current_working_directory"`
	Files         []struct {
		File      string `json:"file"`
		Functions []struct {
			Name           string `json:"name"`
			StartLine      int    `json:"start_line"`
			EndLine        int    `json:"end_line"`
			ExecutionCount int64  `json:"execution_count"`
		} `json:"functions"`
		Lines []struct {
			LineNumber   int    `json:"line_number"`
			Count        int64  `json:"count"`
			FunctionName string `json:"function_name"`
			Branches     []struct {
				Count int64 `json:"count"`
			} `json:"branches"`
		} `json:"lines"`
	} `json:"files"`
}

// ParseGcov reads the output of `gcov --json-format --stdout` for one or
// more .gcda files (one JSON document each). Relative file names are
// resolved against the directory gcov says the object was compiled in
// (kbuild compiles external modules from the module's directory since
// Linux 6.13, from the kernel tree before). A line listed twice (code of
// two functions on one line) counts as their sum.
func ParseGcov(data []byte) ([]File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var sets [][]File
	for {
		var out gcovOutput
		err := dec.Decode(&out)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("gcov JSON: %w", err)
		}
		if out.FormatVersion == "" {
			return nil, errors.New("gcov JSON: no format_version: not gcov's --json-format output")
		}
		var files []File
		for _, gf := range out.Files {
			path := gf.File
			if strings.TrimSpace(path) == "" {
				return nil, errors.New("gcov JSON: a file without a name")
			}
			if !filepath.IsAbs(path) && out.CWD != "" {
				path = filepath.Join(out.CWD, path)
			}
			f := File{Path: filepath.Clean(path)}
			for _, fn := range gf.Functions {
				f.Functions = append(f.Functions, Function{Name: fn.Name, Start: fn.StartLine, End: fn.EndLine, Count: max(fn.ExecutionCount, 0)})
			}
			for _, l := range gf.Lines {
				if l.LineNumber <= 0 {
					return nil, fmt.Errorf("gcov JSON: %s: line number %d", path, l.LineNumber)
				}
				line := Line{Number: l.LineNumber, Count: max(l.Count, 0), Function: l.FunctionName}
				for _, b := range l.Branches {
					line.Branches = append(line.Branches, max(b.Count, 0))
				}
				f.Lines = append(f.Lines, line)
			}
			files = append(files, f)
		}
		sets = append(sets, files)
	}
	// Merging each file with nothing sorts it and sums repeated lines.
	return Merge(sets...), nil
}
