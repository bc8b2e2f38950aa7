package report

import (
	"encoding/json"
	"fmt"
	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"io"
	"os"
	"strconv"
	"unicode"
)

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	r.Schema = SchemaVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("report schema %d, this kmodvm reads %d", r.Schema, SchemaVersion)
	}
	for i, k := range r.Kernels {
		if k == nil || k.Name == "" {
			return nil, fmt.Errorf("decode report: kernel %d has no name", i)
		}
		for j, t := range k.Tests {
			if t == nil {
				return nil, fmt.Errorf("decode report: kernel %s: test %d is null", k.Name, j)
			}
			for _, f := range t.Findings {
				if f < 0 || f >= len(k.Findings) {
					return nil, fmt.Errorf("decode report: kernel %s: test %s names finding %d of %d", k.Name, t.Name, f, len(k.Findings))
				}
			}
		}
	}
	return &r, nil
}

// ReadFile reads a JSON report from path.
func ReadFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// WriteFile writes a rendering of r to path atomically (temp + rename), so
// that a crash never leaves half a report.
func WriteFile(path string, render func(io.Writer) error) error {
	if err := atomicfile.Write(path, func(f *os.File) error { return render(f) }); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Merge combines reports (for example one per CI job) into one. A kernel
// present in several keeps its last occurrence. The result is partial if
// any input was.
func Merge(reports ...*Report) *Report {
	out := &Report{Schema: SchemaVersion}
	byName := map[string]int{}
	for _, r := range reports {
		if out.Started.IsZero() || (!r.Started.IsZero() && r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		if r.Finished.After(out.Finished) {
			out.Finished = r.Finished
		}
		out.Partial = out.Partial || r.Partial
		if out.Host.Accel == "" {
			out.Host = r.Host
			out.Host.Shard = ""
		}
		for _, k := range r.Kernels {
			id := k.identity()
			if i, ok := byName[id]; ok {
				out.Kernels[i] = k
				continue
			}
			byName[id] = len(out.Kernels)
			out.Kernels = append(out.Kernels, k)
		}
	}
	out.Sort()
	return out
}

// identity tells kernels apart across reports: the ID, or for reports
// from before IDs (and selectors that never resolved) the name.
func (k *Kernel) identity() string {
	if k.ID != "" {
		return "id " + k.ID
	}
	return "name " + k.Name
}

// versionLess orders names with numbers compared numerically: 5.10 < 6.1 <
// 6.12 < 7.3.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		na, ra := leadingNumber(a)
		nb, rb := leadingNumber(b)
		switch {
		case ra != a && rb != b:
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func leadingNumber(s string) (int, string) {
	i := 0
	for i < len(s) && unicode.IsDigit(rune(s[i])) {
		i++
	}
	if i == 0 {
		return 0, s
	}
	n, _ := strconv.Atoi(s[:min(i, 9)])
	return n, s[i:]
}
