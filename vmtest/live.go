package vmtest

import (
	"strings"
	"sync"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// liveRun turns a run's guest tests into Go subtests while they run, so
// that each subtest lasts as long as its guest test (go test -json, and
// the JUnit converters reading it, show real times). A kernel's subtest
// starts with its first guest test and ends with the kernel's report,
// which settles what the guest could not: tests the VM's end cut short,
// findings known only later, the build, boot and modules.
type liveRun struct {
	t       *testing.T
	mu      sync.Mutex
	kernels map[string]*liveKernel // by selector and name
	wg      sync.WaitGroup
}

type liveKernel struct {
	started bool // run was called; read after t.Run returned
	events  chan collect.Live
	final   chan *report.Kernel
	// done holds the tests whose subtests ended on the guest's word.
	done map[report.TestKey]report.Status
}

// liveSub is one guest test's subtest, waiting for its end.
type liveSub struct {
	key      report.TestKey
	t        *testing.T    // nil if -run left the test out
	ready    chan struct{} // t is final
	once     sync.Once
	end      chan collect.Live
	children sync.WaitGroup
}

func newLiveRun(t *testing.T) *liveRun {
	return &liveRun{t: t, kernels: map[string]*liveKernel{}}
}

func liveKey(sel, name string) string { return sel + "\x00" + name }

// test is the runner's Hooks.Test.
func (l *liveRun) test(sel, name string, lt collect.Live) {
	l.mu.Lock()
	lk := l.kernels[liveKey(sel, name)]
	if lk == nil {
		lk = &liveKernel{events: make(chan collect.Live, 1<<12), final: make(chan *report.Kernel, 1), done: map[report.TestKey]report.Status{}}
		l.kernels[liveKey(sel, name)] = lk
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.t.Run(name, lk.run)
			if !lk.started {
				// -run left the kernel out: nothing reads its events.
				for range lk.events {
				}
				<-lk.final
			}
		}()
	}
	l.mu.Unlock()
	lk.events <- lt
}

// kernel is the runner's Hooks.Kernel.
func (l *liveRun) kernel(k *report.Kernel) {
	l.mu.Lock()
	lk := l.kernels[liveKey(k.Selector, k.Name)]
	l.mu.Unlock()
	if lk != nil {
		close(lk.events)
		lk.final <- k
	}
}

// wait waits for every kernel's subtest; reported says which kernels had
// one.
func (l *liveRun) wait() (reported func(*report.Kernel) bool) {
	l.wg.Wait()
	return func(k *report.Kernel) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.kernels[liveKey(k.Selector, k.Name)] != nil
	}
}

// run is a kernel's subtest: one subtest per guest test as they start and
// end, then the kernel's report.
func (lk *liveKernel) run(t *testing.T) {
	lk.started = true
	open := map[report.TestKey]*liveSub{}
	var top sync.WaitGroup
	for lt := range lk.events {
		if lt.VM != nil {
			lk.settle(open, lt.VM)
			continue
		}
		key := report.TestKey{Package: lt.Package, Name: lt.Name}
		if lt.End != nil {
			if s := open[key]; s != nil {
				delete(open, key)
				lk.done[key] = lt.End.Status
				s.end <- lt
			}
			continue
		}
		s := &liveSub{key: key, ready: make(chan struct{}), end: make(chan collect.Live, 1)}
		open[key] = s
		parent, wg, name := t, &top, lt.Name
		if i := strings.LastIndex(lt.Name, "/"); i >= 0 {
			if p := open[report.TestKey{Package: lt.Package, Name: lt.Name[:i]}]; p != nil {
				<-p.ready
				parent, wg, name = p.t, &p.children, lt.Name[i+1:]
			}
		}
		if parent == nil {
			// -run left the parent out, and so this test.
			s.setReady(nil)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			parent.Run(name, s.run)
			s.setReady(nil) // if -run left it out
		}()
		<-s.ready // subtests start in the guest's order
	}
	k := <-lk.final
	lk.settle(open, k)
	top.Wait()
	reportKernel(t, k, lk.done)
}

// settle ends the subtests of the tests the guest never ended with their
// status in k, the report of the VM that ended (or the kernel's).
func (lk *liveKernel) settle(open map[report.TestKey]*liveSub, k *report.Kernel) {
	for key, s := range open {
		lt := collect.Live{Package: key.Package, Name: key.Name}
		if tt := k.Find(key); tt != nil {
			lt.End = tt
			for _, i := range tt.Findings {
				lt.Findings = append(lt.Findings, k.Findings[i])
			}
			lk.done[key] = tt.Status
		} else {
			lt.End = &report.Test{Package: key.Package, Name: key.Name, Status: report.NotRun,
				Output: "the guest never reported this test's end"}
		}
		delete(open, key)
		s.end <- lt
	}
}

// run is a guest test's subtest: it ends when the test's end arrives.
func (s *liveSub) run(t *testing.T) {
	s.setReady(t)
	lt := <-s.end
	defer s.children.Wait()
	reportResult(t, lt.End, lt.Findings)
}

func (s *liveSub) setReady(t *testing.T) {
	s.once.Do(func() {
		s.t = t
		close(s.ready)
	})
}
