package collect

import (
	"regexp"
	"strconv"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// leakReport is one reading of /sys/kernel/debug/kmemleak by the agent.
type leakReport struct {
	stage string
	text  string
	mono  int64 // when it was read
}

var (
	leakObjectRe = regexp.MustCompile(`unreferenced object (0x[0-9a-f]+) \(size (\d+)\)`)
	// "comm "insmod", pid 73, jiffies 4294893311 (age 17.240s)"; kernels
	// from 6.7 on print no age.
	leakAgeRe = regexp.MustCompile(`\(age (\d+)\.(\d{3})s\)`)
)

// leakFindings turns the kmemleak reports into findings. A leak whose
// backtrace enters a module under test (by name, or by address once the
// module is unloaded and its frames are bare addresses) is the module's:
// attributed to the test during which it was allocated when kmemleak says
// how old it is, else to the module's load or unload. Other leaks are
// noted as the kernel's own. kmemleak lists an object in every read until
// cleared, so each object is reported once.
func (c *Collector) leakFindings() {
	seen := map[string]bool{}
	for _, lr := range c.leaks {
		for _, f := range dmesg.Scan([]byte(lr.text)) {
			if f.Kind != dmesg.KindMemoryLeak {
				continue
			}
			obj := leakObjectRe.FindString(f.Report)
			if obj == "" || seen[obj] {
				continue
			}
			seen[obj] = true
			rf := reportFinding(f)
			rf.Time = 0 // not a kernel log record: its time is not the leak's
			mod := c.leakModule(rf.Frames)
			if mod == "" {
				rf.Owner = report.OwnerKernel
				c.kernel.Findings = append(c.kernel.Findings, rf)
				continue
			}
			rf.Module = mod
			alloc := int64(0)
			if age, ok := leakAge(f.Report); ok && lr.mono > int64(age) {
				alloc = lr.mono - int64(age)
			}
			idx := len(c.kernel.Findings)
			if tr := c.testAt(alloc); tr != nil {
				rf.Test = tr.t.Package + ": " + tr.t.Name
				tr.t.Findings = append(tr.t.Findings, idx)
				if tr.t.Status == report.Pass || tr.t.Status == report.Skip {
					tr.t.Status = report.Fail
					tr.t.Output += "\n--- kmodvm: kmemleak found " + rf.Title + ", allocated during this test"
				}
			} else if step := c.steps.at(alloc); step != "" {
				rf.Step = step
			} else {
				// Still unreferenced when the module went away.
				rf.Step = "unload " + mod
			}
			c.kernel.Findings = append(c.kernel.Findings, rf)
		}
	}
}

// leakModule returns the module under test whose code a leak's backtrace
// passes through, or "".
func (c *Collector) leakModule(frames []report.Frame) string {
	for _, fr := range frames {
		for i := range c.kernel.Modules {
			m := &c.kernel.Modules[i]
			if m.Dep {
				continue
			}
			if (fr.Module != "" && moddep.Name(fr.Module) == moddep.Name(m.Name)) || (fr.Addr != 0 && m.Contains(fr.Addr)) {
				return m.Name
			}
		}
	}
	return ""
}

// leakAge reads how long before the report the object was allocated.
func leakAge(rep string) (time.Duration, bool) {
	m := leakAgeRe.FindStringSubmatch(rep)
	if m == nil {
		return 0, false
	}
	s, _ := strconv.Atoi(m[1])
	ms, _ := strconv.Atoi(m[2])
	return time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond, true
}

// noteLeaks keeps a kmemleak reading for finish.
func (c *Collector) noteLeaks(ev event.Event) {
	c.leaks = append(c.leaks, leakReport{stage: ev.Stage, text: ev.Msg, mono: ev.Mono})
}
