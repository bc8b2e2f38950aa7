package dmesg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// frameText prints a frame as a trace line does: "? func+0x1a/0x40
// [module]", a bare address as 0x..., "none" for no frame.
func frameText(f Frame) string {
	var s string
	switch {
	case f.IsZero():
		return "none"
	case f.Func == "":
		s = fmt.Sprintf("%#x", f.Addr)
	default:
		s = fmt.Sprintf("%s+%#x/%#x", f.Func, f.Offset, f.Size)
	}
	if f.Module != "" {
		s += " [" + f.Module + "]"
	}
	if f.Unreliable {
		s = "? " + s
	}
	return s
}

// handValues reads a LOG.hand file: "key: value" lines, # comments; a key
// may repeat (frame).
func handValues(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("%s: %q is no \"key: value\" line", path, l)
		}
		kv[k] = append(kv[k], v)
	}
	return kv
}

// Beside some real logs, LOG.hand says what a reader finds in one of its
// reports, written by hand from the log: the kind and title, the line
// that opens the report and the lines it must hold (header: the bug's
// own, with the file:line a WARN or BUG prints), the time of the bug's
// line, the guilty function and module, the registers' code locations
// and the trace. The .want files are the scanner's own output, which
// -update rewrites; these are not, so a regression that -update would
// bless still fails here.
func TestHandWrittenExpectations(t *testing.T) {
	hands, err := filepath.Glob(filepath.Join("testdata", "report", "*", "*.hand"))
	if err != nil || len(hands) < 5 {
		t.Fatalf("hand-written expectations %v (%v), want a handful", hands, err)
	}
	for _, hand := range hands {
		name, _ := filepath.Rel(filepath.Join("testdata", "report"), hand)
		t.Run(name, func(t *testing.T) {
			kv := handValues(t, hand)
			log, err := os.ReadFile(strings.TrimSuffix(hand, ".hand"))
			if err != nil {
				t.Fatal(err)
			}
			fs := Scan(log)
			n, err := strconv.Atoi(first(kv["finding"]))
			if err != nil || n < 1 || n > len(fs) {
				t.Fatalf("finding %q of %d", first(kv["finding"]), len(fs))
			}
			f := fs[n-1]
			lines := map[string]bool{}
			for _, l := range strings.Split(f.Report, "\n") {
				lines[parseLine([]byte(l)).text] = true
			}
			opens, _, _ := strings.Cut(f.Report, "\n")
			var frames []string
			for _, fr := range f.Frames {
				frames = append(frames, frameText(fr))
			}
			got := map[string]string{
				"kind": string(f.Kind), "title": f.Title, "opens": parseLine([]byte(opens)).text,
				"time": f.Time.String(), "func": f.Func, "module": f.Module,
				"pc": frameText(f.PC), "lr": frameText(f.LR), "frames": strconv.Itoa(len(frames)),
				"first": at(frames, 0), "last": at(frames, len(frames)-1),
			}
			for k, want := range kv {
				switch k {
				case "finding":
				case "header":
					for _, h := range want {
						if !lines[h] {
							t.Errorf("the report lacks the line %q:\n%s", h, f.Report)
						}
					}
				case "frame":
					if strings.Join(want, "\n") != strings.Join(frames, "\n") {
						t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(frames, "\n"), strings.Join(want, "\n"))
					}
				case "time":
					if d, err := time.ParseDuration(want[0]); err != nil || d != f.Time {
						t.Errorf("time %v, want %s", f.Time, want[0])
					}
				default:
					if g, ok := got[k]; !ok {
						t.Errorf("unknown key %q", k)
					} else if g != want[0] {
						t.Errorf("%s: %q, want %q", k, g, want[0])
					}
				}
			}
		})
	}
}

func first(v []string) string { return at(v, 0) }

func at(v []string, i int) string {
	if i < 0 || i >= len(v) {
		return ""
	}
	return v[i]
}
