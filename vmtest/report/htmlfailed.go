package report

import "strings"

// The page's "What failed": one entry per Failure, above the matrix, so
// that the first screen says why a run failed.
const (
	// maxOpenFailures is how many failures the page lists before it folds
	// the rest.
	maxOpenFailures = 8
	// maxOpenKernels is how many kernels a failure names before it folds
	// the rest.
	maxOpenKernels = 6
	// maxWhere bounds the source lines named for one finding.
	maxWhere = 3
)

type failureView struct {
	Cell      cell
	Kind      FailureKind
	Name, Why string
	// NameHref links a finding's name to its entry in its kernel's
	// section; Where and Tally are that finding's.
	NameHref, Tally string
	Where           []link
	// Bugs are the findings blamed on a failed test.
	Bugs       []bugView
	On, MoreOn []onView
}

type bugView struct {
	Headline, Href, Tally string
	// Again marks a bug an earlier failure told.
	Again bool
	// Where are the module's frames with a source line, each linked to its
	// excerpt embedded in the page (no link when it is not).
	Where []link
}

// onView is a failure's kernel: its section, the failed test's output,
// and its replay script.
type onView struct {
	Kernel, Href, Test string
	AfterReboot        bool
	// Repro links the replay script embedded in the page; ReproPath names
	// it when it is not embedded.
	Repro, ReproPath string
}

func failureViews(fs []*Failure, kvs []*kernelView, index map[TestKey]int) []failureView {
	byKernel := map[*Kernel]*kernelView{}
	for _, kv := range kvs {
		byKernel[kv.Kernel] = kv
	}
	var out []failureView
	told := map[string]bool{}
	for _, f := range fs {
		fv := failureView{Cell: newCell(f.Status, "", "", ""), Kind: f.Kind, Name: f.Name, Why: f.Why}
		first := byKernel[f.On[0].Kernel]
		for _, i := range f.On[0].Findings {
			b := newBugView(first.Findings[i])
			if told[b.Href] {
				// One bug of many tests: told once, named again.
				b.Tally, b.Where, b.Again = "", nil, true
			}
			told[b.Href] = true
			fv.Bugs = append(fv.Bugs, b)
		}
		if f.Kind == FailedFinding && len(fv.Bugs) == 1 {
			b := fv.Bugs[0]
			fv.NameHref, fv.Tally, fv.Where, fv.Bugs = b.Href, b.Tally, b.Where, nil
		}
		for i, on := range f.On {
			ov := newOnView(byKernel[on.Kernel], on, index)
			if i < maxOpenKernels {
				fv.On = append(fv.On, ov)
			} else {
				fv.MoreOn = append(fv.MoreOn, ov)
			}
		}
		out = append(out, fv)
	}
	return out
}

func newOnView(kv *kernelView, on FailedOn, index map[TestKey]int) onView {
	ov := onView{Kernel: KernelLabel(kv.Kernel), Href: "#" + kv.ID}
	if t := on.Test; t != nil {
		if ti, ok := index[TestKey{t.Package, t.Name}]; ok {
			ov.Test = "#" + kv.testID(ti)
		}
		ov.AfterReboot = t.AfterReboot
	}
	if kv.Repro != "" {
		ov.Repro = "#" + kv.Repro
	} else {
		ov.ReproPath = kv.Files["repro.sh"]
	}
	return ov
}

// newBugView names a finding with the module's source lines it happened
// at: the faulting instruction and the reliable frames of its trace that
// are the module's, each line once.
func newBugView(fv findingView) bugView {
	b := bugView{Headline: fv.Headline(), Href: "#" + fv.ID, Tally: fv.Tally()}
	seen := map[string]bool{}
	j := 0
	fv.EachFrame(func(_ string, fr Frame) {
		href := ""
		if j < len(fv.Trace) && strings.HasPrefix(fv.Trace[j].Href, "#") {
			href = fv.Trace[j].Href
		}
		j++
		if fr.Module == "" || fr.File == "" || fr.Unreliable || seen[fr.Where()] || len(b.Where) == maxWhere {
			return
		}
		seen[fr.Where()] = true
		b.Where = append(b.Where, link{Href: href, Text: fr.Where()})
	})
	if len(b.Where) == 0 {
		if fr, ok := fv.Source(); ok {
			b.Where = append(b.Where, link{Text: fr.Where()})
		}
	}
	return b
}
