package report

import (
	"fmt"
	"sort"
	"strings"
)

// maxPointNames bounds the points a site's row names; the rest are
// counted.
const maxPointNames = 8

// writeFaultSites writes, for each kernel with sweep points, a table of
// the places the injected failures hit and what each led to.
func (r *Report) writeFaultSites(b *strings.Builder) {
	started := false
	for _, k := range r.Kernels {
		sites := k.FaultSites()
		if len(sites) == 0 {
			continue
		}
		// The module's own sites first: its error paths are the question.
		sort.SliceStable(sites, func(i, j int) bool { return sites[i].InModule && !sites[j].InModule })
		if !started {
			b.WriteString("\n### Failure sites (--inject-faults)\n")
			started = true
		}
		fmt.Fprintf(b, "\n**%s**\n\n| | where the failure hit | points | what the kernel found |\n|---|---|---|---|\n", mdEscape(k.Name))
		for _, s := range sites {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", Mark(s.Worst), mdSite(s), mdPoints(s.Points), mdSiteFindings(k, s))
		}
	}
}

func mdSite(s FaultSite) string {
	p := s.Points[0].Fault
	where := mdEscape(p.Op+" "+p.Module) + ": `" + strings.NewReplacer("`", "'", "|", "/").Replace(s.Site) + "`"
	if !s.InModule {
		where += " (outside the module)"
	}
	return where
}

func mdPoints(points []*Test) string {
	var names []string
	for i, t := range points {
		if i == maxPointNames {
			names = append(names, fmt.Sprintf("and %d more", len(points)-i))
			break
		}
		names = append(names, fmt.Sprintf("fail-nth=%d", t.Fault.Nth))
	}
	return strings.Join(names, ", ")
}

// mdSiteFindings names a site's findings, each bug once, or what its
// points' operations answered when the kernel found nothing.
func mdSiteFindings(k *Kernel, s FaultSite) string {
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
		return mdEscape(strings.Join(out, "; "))
	}
	p := s.Points[0].Fault
	switch {
	case p.Error != "":
		return mdEscape("nothing; " + p.Op + " returned " + p.Error)
	case p.Loaded && p.Tests:
		return "nothing; loaded in spite of it, the tests ran on it"
	default:
		return "nothing; " + p.Op + " succeeded in spite of it"
	}
}
