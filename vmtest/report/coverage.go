package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/coverage"
)

// CoverageRow is one source file's coverage as reports list it.
type CoverageRow struct {
	// Name is the file's path from its module's directory's parent
	// ("kmod/mmapdrv.c"); Path is the whole path.
	Name, Path string
	coverage.Summary
}

// CoverageRows lists k's coverage per source file, by name, and the total.
func (k *Kernel) CoverageRows() ([]CoverageRow, coverage.Summary) {
	names := coverageNames([]*Kernel{k})
	var rows []CoverageRow
	var total coverage.Summary
	for _, f := range k.Coverage {
		s := f.Summary()
		rows = append(rows, CoverageRow{Name: names[f.Path], Path: f.Path, Summary: s})
		total = total.Add(s)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, total
}

// coverageNames names the source files of the kernels' coverage by their
// path below the parent of the directory they all lie in, so that a
// module's directory ("kmod/") heads its files.
func coverageNames(ks []*Kernel) map[string]string {
	var dirs []string
	for _, k := range ks {
		for _, f := range k.Coverage {
			dirs = append(dirs, filepath.Dir(f.Path))
		}
	}
	root := ""
	if len(dirs) > 0 {
		root = dirs[0]
		for _, d := range dirs[1:] {
			for root != "/" && root != "." && !strings.HasPrefix(d+"/", root+"/") {
				root = filepath.Dir(root)
			}
		}
		root = filepath.Dir(root)
	}
	names := map[string]string{}
	for _, k := range ks {
		for _, f := range k.Coverage {
			if rel, err := filepath.Rel(root, f.Path); err == nil && root != "" {
				names[f.Path] = rel
			} else {
				names[f.Path] = f.Path
			}
		}
	}
	return names
}

// Coverage returns the coverage of all the report's kernels summed per
// source file, or nil if no kernel has any.
func (r *Report) Coverage() []coverage.File {
	var sets [][]coverage.File
	for _, k := range r.Kernels {
		if k != nil && len(k.Coverage) > 0 {
			sets = append(sets, k.Coverage)
		}
	}
	if len(sets) == 0 {
		return nil
	}
	return coverage.Merge(sets...)
}

// WriteLCOV writes the coverage of all the report's kernels, summed, as an
// lcov tracefile (what `kmodvm run --coverage` writes as coverage.info);
// test names its test in the file (TN:).
func (r *Report) WriteLCOV(w io.Writer, test string) error {
	return coverage.WriteLCOV(w, test, r.Coverage())
}

// CoverageCell says "hit/lines (pct%)".
func CoverageCell(s coverage.Summary) string {
	return fmt.Sprintf("%d/%d (%.1f%%)", s.LinesHit, s.Lines, s.LinePercent())
}

// writeCoverageMarkdown adds the coverage table (files down, kernels
// across) when a kernel has coverage.
func (r *Report) writeCoverageMarkdown(b *strings.Builder) {
	var ks []*Kernel
	for _, k := range r.Kernels {
		if len(k.Coverage) > 0 {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return
	}
	names := coverageNames(ks)
	cells := map[string]map[*Kernel]coverage.Summary{}
	var files []string
	totals := map[*Kernel]coverage.Summary{}
	for _, k := range ks {
		for _, f := range k.Coverage {
			n := names[f.Path]
			if cells[n] == nil {
				cells[n] = map[*Kernel]coverage.Summary{}
				files = append(files, n)
			}
			cells[n][k] = f.Summary()
			totals[k] = totals[k].Add(f.Summary())
		}
	}
	sort.Strings(files)
	b.WriteString("\n### Coverage (lines run)\n\n| file |")
	for _, k := range ks {
		fmt.Fprintf(b, " %s |", mdEscape(k.Name))
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(ks)) + "\n")
	for _, n := range files {
		fmt.Fprintf(b, "| `%s` |", mdEscape(n))
		for _, k := range ks {
			if s, ok := cells[n][k]; ok {
				fmt.Fprintf(b, " %s |", CoverageCell(s))
			} else {
				b.WriteString(" · |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("| **all** |")
	for _, k := range ks {
		t := totals[k]
		fmt.Fprintf(b, " **%s**, branches %d/%d |", CoverageCell(t), t.BranchesHit, t.Branches)
	}
	b.WriteString("\n")
}

// coverageView is a kernel's coverage in the HTML report.
type coverageView struct {
	ID    string
	Total coverage.Summary
	Files []coverageFileView
}

type coverageFileView struct {
	ID string
	CoverageRow
	// Source is the file's lines, marked, when it can be read from here.
	Source []coverageLine
}

type coverageLine struct {
	N           int
	State       coverage.State // "" for a line without code
	Count, Text string
	Tip         string
}

// newCoverageView renders k's coverage with each file's source, read from
// its path, every line of code marked hit, partial, missed or unreached.
func newCoverageView(kid string, k *Kernel) *coverageView {
	if len(k.Coverage) == 0 {
		return nil
	}
	rows, total := k.CoverageRows()
	byPath := map[string]coverage.File{}
	for _, f := range k.Coverage {
		byPath[f.Path] = f
	}
	v := &coverageView{ID: kid + "-coverage", Total: total}
	for i, row := range rows {
		fv := coverageFileView{ID: fmt.Sprintf("%s-cov%d", kid, i), CoverageRow: row}
		fv.Source = sourceCoverage(byPath[row.Path])
		v.Files = append(v.Files, fv)
	}
	return v
}

// stateTips say what a line's mark means.
var stateTips = map[coverage.State]string{
	coverage.Hit:       "run",
	coverage.Partial:   "run, but some of its branches never taken",
	coverage.Missed:    "not run, though its function ran",
	coverage.Unreached: "not run: its function never ran",
}

// sourceCoverage reads f's source and marks its lines, or nil.
func sourceCoverage(f coverage.File) []coverageLine {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	states := f.States()
	lines := map[int]coverage.Line{}
	for _, l := range f.Lines {
		lines[l.Number] = l
	}
	var out []coverageLine
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		cl := coverageLine{N: n, Text: sc.Text()}
		if l, ok := lines[n]; ok {
			cl.State, cl.Count = states[n], fmt.Sprint(l.Count)
			cl.Tip = stateTips[cl.State]
			if len(l.Branches) > 0 {
				taken := 0
				for _, b := range l.Branches {
					if b > 0 {
						taken++
					}
				}
				cl.Tip += fmt.Sprintf("; %d of %d branches taken", taken, len(l.Branches))
			}
		}
		out = append(out, cl)
	}
	return out
}
