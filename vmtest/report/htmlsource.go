package report

import (
	"bufio"
	"fmt"
	"os"
)

// excerptContext is how many lines an embedded source excerpt shows on
// each side of a frame's line.
const excerptContext = 5

// traceLine is one frame of a finding's symbolized trace, linked to its
// source: the excerpt embedded in the page, or the file itself.
type traceLine struct {
	Text, Where, Href string
}

// excerpt is a few lines of a module's source around a frame's line.
type excerpt struct {
	ID, Title string
	Lines     []srcLine
}

type srcLine struct {
	N    int
	Text string
	Mark bool
}

// sourceViews renders f's symbolized trace, and (with embed) excerpts of
// the module's source at each of its frames' lines, read from the files
// the frames name when they can be read from here. The trace is empty
// when no frame has a source line.
func sourceViews(f Finding, id string, embed bool) ([]traceLine, []excerpt) {
	if f.Trace() == "" {
		return nil, nil
	}
	var trace []traceLine
	var excerpts []excerpt
	seen := map[string]string{} // file:line -> excerpt id
	add := func(label string, fr Frame) {
		text := label + fr.String()
		if fr.Unreliable {
			text = label + "? " + fr.String()
		}
		tl := traceLine{Text: text, Where: fr.Where()}
		if fr.File != "" {
			loc := Source{File: fr.File, Line: fr.Line}.String()
			tl.Href = fr.File
			if xid, ok := seen[loc]; ok {
				tl.Href = "#" + xid
			} else if embed && fr.Module != "" {
				if lines := readExcerpt(fr.File, fr.Line); lines != nil {
					xid := fmt.Sprintf("%s-src%d", id, len(excerpts))
					excerpts = append(excerpts, excerpt{ID: xid, Title: loc, Lines: lines})
					seen[loc], tl.Href = xid, "#"+xid
				}
			}
		}
		trace = append(trace, tl)
	}
	f.EachFrame(add)
	return trace, excerpts
}

// readExcerpt reads the lines around line of file, or nil.
func readExcerpt(file string, line int) []srcLine {
	if line <= 0 {
		return nil
	}
	fh, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer fh.Close()
	var out []srcLine
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan() && n <= line+excerptContext; n++ {
		if n >= line-excerptContext {
			out = append(out, srcLine{N: n, Text: sc.Text(), Mark: n == line})
		}
	}
	if len(out) == 0 || out[len(out)-1].N < line {
		return nil // the file changed since: its line is gone
	}
	return out
}
