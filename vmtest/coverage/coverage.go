package coverage

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// File is the coverage of one source file.
type File struct {
	// Path is the source file's path: as gcov names it, or as the caller
	// rewrote it (the module's own directory rather than its build copy).
	Path string `json:"path"`
	// Lines are the file's instrumented lines, by Number; a line without
	// code has no entry.
	Lines     []Line     `json:"lines"`
	Functions []Function `json:"functions,omitempty"`
}

// Line is one instrumented source line.
type Line struct {
	Number int   `json:"line"`
	Count  int64 `json:"count"`
	// Branches are the counts of the line's branch outcomes, in the
	// compiler's order: an outcome counted 0 was never taken.
	Branches []int64 `json:"branches,omitempty"`
	// Function is the function the line belongs to, when gcov says.
	Function string `json:"function,omitempty"`
}

// Function is one instrumented function.
type Function struct {
	Name  string `json:"name"`
	Start int    `json:"start"`
	End   int    `json:"end,omitempty"`
	Count int64  `json:"count"`
}

// Summary counts what a file (or several) covers.
type Summary struct {
	Lines, LinesHit         int
	Branches, BranchesHit   int
	Functions, FunctionsHit int
}

// Summary counts f's lines, branches and functions, and those run.
func (f File) Summary() Summary {
	var s Summary
	for _, l := range f.Lines {
		s.Lines++
		if l.Count > 0 {
			s.LinesHit++
		}
		for _, b := range l.Branches {
			s.Branches++
			if b > 0 {
				s.BranchesHit++
			}
		}
	}
	for _, fn := range f.Functions {
		s.Functions++
		if fn.Count > 0 {
			s.FunctionsHit++
		}
	}
	return s
}

// Add returns the sum of s and t.
func (s Summary) Add(t Summary) Summary {
	return Summary{s.Lines + t.Lines, s.LinesHit + t.LinesHit, s.Branches + t.Branches,
		s.BranchesHit + t.BranchesHit, s.Functions + t.Functions, s.FunctionsHit + t.FunctionsHit}
}

// LinePercent is the share of lines run, in percent; 0 without lines.
func (s Summary) LinePercent() float64 { return percent(s.LinesHit, s.Lines) }

// BranchPercent is the share of branch outcomes taken, in percent.
func (s Summary) BranchPercent() float64 { return percent(s.BranchesHit, s.Branches) }

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// String says "123/140 lines (87.9%)".
func (s Summary) String() string {
	return fmt.Sprintf("%d/%d lines (%.1f%%)", s.LinesHit, s.Lines, s.LinePercent())
}

// State is what a line's counts say about it.
type State string

// Line states. A missed line's function ran but took another way (an
// error path, say); an unreached line's function never ran at all.
const (
	Hit       State = "hit"
	Partial   State = "partial" // run, but some of its branch outcomes never taken
	Missed    State = "missed"
	Unreached State = "unreached"
)

// States returns the state of each of f's lines, by line number.
func (f File) States() map[int]State {
	ran := map[string]bool{}
	for _, fn := range f.Functions {
		ran[fn.Name] = ran[fn.Name] || fn.Count > 0
	}
	out := make(map[int]State, len(f.Lines))
	for _, l := range f.Lines {
		switch {
		case l.Count > 0 && slices.Contains(l.Branches, 0):
			out[l.Number] = Partial
		case l.Count > 0:
			out[l.Number] = Hit
		case l.Function != "" && !ran[l.Function] || l.Function == "" && !f.inRunFunction(l.Number):
			out[l.Number] = Unreached
		default:
			out[l.Number] = Missed
		}
	}
	return out
}

// inRunFunction reports whether line n lies in a function that ran, for
// lines whose function gcov did not name (as in lcov tracefiles). A
// function without an end (lcov's FN has none) runs to the next one's
// start.
func (f File) inRunFunction(n int) bool {
	for i, fn := range f.Functions {
		end := fn.End
		if end == 0 {
			end = math.MaxInt
			for _, g := range f.Functions[i+1:] {
				if g.Start > fn.Start {
					end = min(end, g.Start-1)
				}
			}
			for _, g := range f.Functions[:i] {
				if g.Start > fn.Start {
					end = min(end, g.Start-1)
				}
			}
		}
		if fn.Count > 0 && n >= fn.Start && n <= end {
			return true
		}
	}
	return false
}

// Merge sums the counts of several sets of files (several VMs, several
// kernels): files by path, lines by number, branch outcomes by position,
// functions by name. The result is sorted by path, its lines by number and
// its functions by start line.
func Merge(sets ...[]File) []File {
	byPath := map[string]*File{}
	var paths []string
	for _, set := range sets {
		for _, f := range set {
			m, ok := byPath[f.Path]
			if !ok {
				m = &File{Path: f.Path}
				byPath[f.Path] = m
				paths = append(paths, f.Path)
			}
			m.add(f)
		}
	}
	slices.Sort(paths)
	out := make([]File, 0, len(paths))
	for _, p := range paths {
		out = append(out, *byPath[p])
	}
	return out
}

// add sums g's counts into f, keeping f sorted.
func (f *File) add(g File) {
	lines := map[int]int{}
	for i, l := range f.Lines {
		lines[l.Number] = i
	}
	for _, l := range g.Lines {
		i, ok := lines[l.Number]
		if !ok {
			lines[l.Number] = len(f.Lines)
			f.Lines = append(f.Lines, Line{Number: l.Number, Function: l.Function})
			i = len(f.Lines) - 1
		}
		m := &f.Lines[i]
		m.Count = sum(m.Count, l.Count)
		if m.Function == "" {
			m.Function = l.Function
		}
		for len(m.Branches) < len(l.Branches) {
			m.Branches = append(m.Branches, 0)
		}
		for j, b := range l.Branches {
			m.Branches[j] = sum(m.Branches[j], b)
		}
	}
	slices.SortFunc(f.Lines, func(a, b Line) int { return cmp.Compare(a.Number, b.Number) })
	fns := map[string]int{}
	for i, fn := range f.Functions {
		fns[fn.Name] = i
	}
	for _, fn := range g.Functions {
		i, ok := fns[fn.Name]
		if !ok {
			fns[fn.Name] = len(f.Functions)
			f.Functions = append(f.Functions, Function{Name: fn.Name, Start: fn.Start, End: fn.End})
			i = len(f.Functions) - 1
		}
		f.Functions[i].Count = sum(f.Functions[i].Count, fn.Count)
	}
	slices.SortFunc(f.Functions, func(a, b Function) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Name, b.Name))
	})
}

// sum adds two counts, stopping at the largest int64 rather than wrapping
// to a negative count.
func sum(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
