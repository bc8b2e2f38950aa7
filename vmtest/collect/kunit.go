package collect

import (
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/ktap"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// kunitPackage prefixes the report package of a KUnit suite's cases:
// "kernel/kunit/<suite>", apart from any Go test binary's name.
const kunitPackage = "kernel/kunit/"

// IsKUnit reports whether a report's package is a KUnit suite's.
func IsKUnit(pkg string) bool { return strings.HasPrefix(pkg, kunitPackage) }

// maxKUnitLog bounds the kernel log kept for reading KTAP from when the
// kernel has no KUnit debugfs.
const maxKUnitLog = 4 << 20

// kunitResults gathers a run's KUnit results: from the agent's kunit
// events (debugfs) and from the KTAP the kernel logged while the modules
// loaded.
type kunitResults struct {
	fromEvents []*ktap.Test
	seen       bool // a kunit event arrived
	// since is when the agent said hello (guest monotonic ns): KTAP logged
	// before it is of the kernel's built-in suites, which run before init.
	since   int64
	log     []kunitRecord
	logSize int
}

type kunitRecord struct {
	mono int64
	text string
}

func (k *kunitResults) event(results string) {
	k.seen = true
	k.fromEvents = append(k.fromEvents, ktap.Parse(results)...)
}

func (k *kunitResults) record(mono int64, text string) {
	if k.logSize+len(text) > maxKUnitLog {
		return
	}
	k.logSize += len(text)
	k.log = append(k.log, kunitRecord{mono, text})
}

// tests returns the report's KUnit tests: the debugfs results of the
// events, else the suites the kernel logged after the agent started (a
// module whose suite crashed the kernel never finished loading).
// Where the log holds a suite whole and with more tests than its debugfs
// results, the log's wins: 6.1's debugfs keeps only the last parameter of
// a parameterized case (its log is reset for each parameter), and results
// past the event's size limit are cut (read after the suite ended, they
// parse as a crash).
//
// The KTAP logged while a sweep point ran (inPoint, by the record's
// time) is the point's output, its suites run with a call failing: not
// the run's results.
func (k *kunitResults) tests(inPoint func(mono int64) bool) []*report.Test {
	var logged []*ktap.Test
	if k.since != 0 {
		var b strings.Builder
		for _, r := range k.log {
			if r.mono >= k.since && !inPoint(r.mono) {
				b.WriteString(r.text)
				b.WriteByte('\n')
			}
		}
		logged = logSuites(b.String())
	}
	if !k.seen {
		return kunitTests(logged)
	}
	suites := make([]*ktap.Test, 0, len(k.fromEvents))
	for _, s := range k.fromEvents {
		for _, l := range logged {
			if l.Name == s.Name && l.Status != ktap.Crash && (s.Status == ktap.Crash || count(l) > count(s)) {
				s = l
				break
			}
		}
		suites = append(suites, s)
	}
	return kunitTests(suites)
}

// count is the number of tests under t.
func count(t *ktap.Test) int {
	n := len(t.Subtests)
	for _, s := range t.Subtests {
		n += count(s)
	}
	return n
}

// logSuites keeps the suites of a kernel log's KTAP: the tests with a
// header, not any "ok 1 ..." line a driver may print.
func logSuites(log string) []*ktap.Test {
	var suites []*ktap.Test
	for _, s := range ktap.Parse(log) {
		if s.Plan >= 0 || len(s.Subtests) > 0 {
			suites = append(suites, s)
		}
	}
	return suites
}

// kunitTests turns suites into report tests, one per case and parameter:
// package "kernel/kunit/<suite>", name "<case>" or "<case>/<param>". A
// suite without cases (its init failed) is a test of its own name.
func kunitTests(suites []*ktap.Test) []*report.Test {
	var out []*report.Test
	for _, s := range suites {
		pkg := kunitPackage + s.Name
		if len(s.Subtests) == 0 {
			out = append(out, kunitTest(pkg, s.Name, s))
			continue
		}
		var walk func(prefix string, cases []*ktap.Test)
		walk = func(prefix string, cases []*ktap.Test) {
			for _, c := range cases {
				out = append(out, kunitTest(pkg, prefix+c.Name, c))
				walk(prefix+c.Name+"/", c.Subtests)
			}
		}
		walk("", s.Subtests)
	}
	return out
}

var kunitStatus = map[ktap.Status]report.Status{
	ktap.Pass: report.Pass, ktap.Skip: report.Skip, ktap.Fail: report.Fail,
	ktap.Crash: report.Crash, ktap.NotRun: report.NotRun,
}

func kunitTest(pkg, name string, c *ktap.Test) *report.Test {
	t := &report.Test{Package: pkg, Name: name, Status: kunitStatus[c.Status]}
	var out []string
	for _, d := range c.Diag {
		// A parameterized case's own KTAP header is structure, not output.
		if strings.HasPrefix(strings.TrimSpace(d), "KTAP version") {
			continue
		}
		out = append(out, d)
	}
	switch c.Status {
	case ktap.Skip:
		out = append(out, "SKIP "+c.Directive)
	case ktap.Crash:
		out = append(out, "--- kmodvm: the kernel log ended while this case ran")
	case ktap.NotRun:
		out = append(out, "--- kmodvm: not run: an earlier case of the suite crashed, or the suite ended early")
	}
	if len(out) > 0 {
		t.Output = strings.Join(out, "\n") + "\n"
	}
	return t
}
