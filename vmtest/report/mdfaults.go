package report

import (
	"fmt"
	"sort"
	"strings"
)

// maxPointNames bounds the points a site's row names; the rest are
// counted.
const maxPointNames = 8

// siteRow is a failure site as the Markdown and HTML reports show it.
type siteRow struct {
	Worst    Status
	Op       string // "load sweepmod"
	Site     string // FaultSite.Site
	InModule bool
	Points   string // "fail-nth=3, fail-nth=9"
	Found    string // what the kernel found, or what the operation did
}

// siteRows are k's failure sites, the module's own first: its error
// paths are the question.
func (k *Kernel) siteRows() []siteRow {
	sites := k.FaultSites()
	sort.SliceStable(sites, func(i, j int) bool { return sites[i].InModule && !sites[j].InModule })
	rows := make([]siteRow, len(sites))
	for i, s := range sites {
		p := s.Points[0].Fault
		rows[i] = siteRow{Worst: s.Worst, Op: p.Op + " " + p.Module, Site: s.Site, InModule: s.InModule,
			Points: pointNames(s.Points), Found: siteFindings(k, s)}
	}
	return rows
}

// writeFaultSites writes, for each kernel with sweep points, a table of
// the places the injected failures hit and what each led to.
func (r *Report) writeFaultSites(b *strings.Builder) {
	started := false
	for _, k := range r.Kernels {
		rows := k.siteRows()
		if len(rows) == 0 {
			continue
		}
		if !started {
			b.WriteString("\n### Failure sites (--inject-faults)\n")
			started = true
		}
		fmt.Fprintf(b, "\n**%s**\n\n| | where the failure hit | points | what the kernel found |\n|---|---|---|---|\n", mdEscape(k.Name))
		for _, s := range rows {
			where := mdEscape(s.Op) + ": `" + strings.NewReplacer("`", "'", "|", "/").Replace(s.Site) + "`"
			if !s.InModule {
				where += " (outside the module)"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", Mark(s.Worst), where, s.Points, mdEscape(s.Found))
		}
	}
}

func pointNames(points []*Test) string {
	var names []string
	for i, t := range points {
		if i == maxPointNames {
			names = append(names, fmt.Sprintf("and %d more", len(points)-i))
			break
		}
		name := fmt.Sprintf("fail-nth=%d", t.Fault.Nth)
		if _, pass, ok := strings.Cut(t.Name, "/pass="); ok {
			// The same n again in a later pass is another point.
			name += " (pass " + pass + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// siteFindings names a site's findings, each bug once, or what its
// points' operations answered when the kernel found nothing.
func siteFindings(k *Kernel, s FaultSite) string {
	var out []string
	seen := map[string]bool{}
	for _, i := range s.Findings {
		if i < 0 || i >= len(k.Findings) {
			continue
		}
		f := k.Findings[i]
		if key := bugKey(f); !seen[key] {
			seen[key] = true
			text := f.Headline()
			if fr, ok := f.Source(); ok {
				text += " at " + fr.FuncLine().String()
			}
			out = append(out, "🐞 "+text)
		}
	}
	if len(out) > 0 {
		return strings.Join(out, "; ")
	}
	p := s.Points[0].Fault
	switch {
	case p.Error != "":
		return "nothing; " + p.Op + " returned " + p.Error
	case p.Loaded && (p.Tests || p.TestedBy != ""):
		return "nothing; loaded in spite of it, the tests ran on it"
	default:
		return "nothing; " + p.Op + " succeeded in spite of it"
	}
}
