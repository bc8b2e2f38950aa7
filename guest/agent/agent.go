// Package agent is kmodvm's guest agent, the PID 1 of every test VM: it
// mounts what tests need, loads the modules under test, runs the Go test
// binaries with a timeout each, and streams results and every kernel log
// record to the host as guest/event lines before powering off.
//
// Its RunConfig comes from event.ConfigPath in the image; events go to the
// port the kernel command line names (event.ParamEvents), the console
// staying the kernel's raw log. With RunConfig.Control it serves Commands
// on the control port (event.ParamControl) instead of running the tests
// at once. With event.ParamIdle it first waits at its idle point for the
// run's files (see idle), the moment a host saves as a snapshot.
package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
)

// Agent runs one RunConfig. The zero value is not usable; Main builds one.
type Agent struct {
	enc *event.Encoder
	// notLoaded are the modules whose load failed: they are not unloaded.
	notLoaded map[string]bool
	// rcuNormal is the kernel's RCU expedited setting, which a fault
	// sweep changes but for the tests (rcuExpeditedKnob).
	rcuNormal  string
	configPath string
	kmsg       *kmsgStream
	// controlDev is the control port's device, from the command line.
	controlDev string
	// shellDev is the port OpShell runs a shell on, from the command line.
	shellDev string
	// portWait is how long a port's device may take to appear: long
	// enough for a driver loadEarly loaded, else nothing.
	portWait time.Duration
	// kunitBefore lists the KUnit suites present before the modules were
	// loaded, when the run asks for KUnit results and the kernel has the
	// directory; nil otherwise.
	kunitBefore map[string]bool
	// lastSent is when the agent last sent an event (guest monotonic ns);
	// beat sends heartbeats when it is old.
	lastSent atomic.Int64
	beat     *heartbeat
	// port is the event port, drained before a power-off.
	port *os.File
	// leaks says that kmemleak's list was cleared for the run's checks.
	leaks bool
}

// Main runs the agent as PID 1 and powers the VM off; it never returns.
// Whatever happens, even a panic, it tries to send a final Done event first.
func Main() {
	// Spare Ps: with one (a one-CPU guest) the real-time thread that reads
	// test output would wait for the goroutine holding it, sending on the
	// slow serial port, before it could time-stamp what it read.
	runtime.GOMAXPROCS(max(4, runtime.NumCPU()))
	start := time.Now()
	a := &Agent{configPath: event.ConfigPath}
	var port *os.File
	finish := func(runErr string) {
		if a.enc == nil {
			a.enc = event.NewEncoder(os.Stdout)
		}
		a.beat.stop()
		if a.kmsg != nil {
			a.kmsg.Stop()
		}
		a.emit(event.Event{Type: event.Done, Err: runErr,
			Msg: fmt.Sprintf("agent ran %v", time.Since(start).Round(time.Millisecond))})
		if port != nil {
			drain(port)
		}
		powerOff()
	}
	defer func() {
		if r := recover(); r != nil {
			finish(fmt.Sprintf("agent panic: %v\n%s", r, debug.Stack()))
		}
	}()
	setupErrs := mountAll()
	if err := setupConsole(); err != nil {
		setupErrs = append(setupErrs, err)
	}
	params := cmdline()
	setupErrs = append(setupErrs, a.loadEarly()...)
	var err error
	port, err = openPort(params[event.ParamEvents], a.portWait)
	if err != nil {
		// Events on the console are better than none: the host's decoder
		// skips the kernel's lines around them.
		setupErrs = append(setupErrs, fmt.Errorf("event port (%s): %w", event.ParamEvents, err))
		a.enc = event.NewEncoder(os.Stdout)
	} else {
		a.enc, a.port = event.NewEncoder(port), port
	}
	a.controlDev = params[event.ParamControl]
	a.shellDev = params[event.ParamShell]
	if params[event.ParamIdle] == "1" {
		// The hello comes after the idle point: a guest restored from
		// it says hello to its own host, on its own clock.
		if err := a.idle(); err != nil {
			finish(err.Error())
		}
	}
	off, err := kmsgOffset()
	if err != nil {
		setupErrs = append(setupErrs, fmt.Errorf("kernel log clock: %w", err))
	}
	j, err := readJiffies()
	if err != nil {
		setupErrs = append(setupErrs, fmt.Errorf("jiffies: %w", err))
	}
	a.emit(event.Event{Type: event.Hello, Kernel: kernelRelease(), KmsgOffset: off, Jiffies: j})
	a.beat = a.startHeartbeat(event.HeartbeatInterval)
	for _, e := range setupErrs {
		a.logf("setup: %v", e)
	}
	if err := a.Run(); err != nil {
		finish(err.Error())
	}
	finish("")
}

// Run reads the configuration and carries it out, reporting as it goes. Its
// error is what aborted the run; test failures are not errors.
func (a *Agent) Run() error {
	k, err := openKmsg(a.emit)
	if err != nil {
		a.logf("%v", err)
	} else {
		a.kmsg = k
		a.goSafe(k.follow)
	}
	if err := writeFile("/proc/sys/kernel/sysrq", "1"); err != nil {
		a.logf("enable sysrq: %v", err)
	}
	cfg, err := readConfig(a.configPath)
	if err != nil {
		return err
	}
	a.watchModules(cfg.Modules)
	leaks := cfg.Kmemleak && a.kmemleakClear()
	a.leaks = leaks
	if cfg.KUnit {
		if a.kunitBefore = kunitSuites(kunitDir); a.kunitBefore == nil {
			a.logf("KUnit results: %s is missing; the kernel log's KTAP has them", kunitDir)
		}
	}
	a.loadModules(cfg.Modules, time.Duration(cfg.FaultGrace))
	if cfg.Control {
		return a.serve(cfg, leaks)
	}
	a.sweepFaults(cfg)
	if sw := cfg.InjectFaults; sw != nil && sw.Only {
		// A VM that swept a share of the points: another runs the
		// tests. Its leaks are read here, as the points' of a VM
		// that dies are before it powers off.
		if leaks {
			a.kmemleakCheck(event.StageAfterTests)
		}
		return nil
	}
	// After the sweep, whose counts a failure at random would move; off
	// before the unload.
	stop := a.scopeFaults(cfg)
	a.runTests(cfg.Tests)
	stop()
	a.endRun(cfg, leaks)
	return nil
}

// watchModules reports every module's load and unload from now on, the
// tests' own included (followModules).
func (a *Agent) watchModules(mods []event.Module) {
	u, err := openUevents()
	if err != nil {
		a.logf("%v: the host knows only the agent's own module loads", err)
		return
	}
	paths := modulePaths(mods)
	a.goSafe(func() { a.followModules(u, paths) })
}

// runTests runs the binaries in order, framed by BinaryStart and BinaryEnd
// events, and returns how each ended.
func (a *Agent) runTests(tests []event.TestBinary) []event.BinaryResult {
	var results []event.BinaryResult
	for _, tb := range tests {
		a.drainKmsg()
		off, _ := kmsgOffset()
		a.emit(event.Event{Type: event.BinaryStart, Binary: tb.Name, KmsgOffset: off})
		exit, err := a.runBinary(tb)
		a.drainKmsg()
		ev := event.Event{Type: event.BinaryEnd, Binary: tb.Name, Exit: exit}
		if err != nil {
			ev.Err = err.Error()
		}
		a.emit(ev)
		if ringWanted(tb, exit, err) {
			a.sendFuzzRing(tb.Name)
		}
		results = append(results, event.BinaryResult{Binary: tb.Name, Exit: exit, Err: ev.Err})
	}
	return results
}

// endRun does what the RunConfig asks after the tests: the KUnit results
// and the gcov data (both go with the modules: gcov's unless the kernel
// keeps it), the modules' unload, the gcov data again (now with the
// modules' exit counted), and a leak check. One check, after the unload,
// finds every leak a check after the tests would (an object nothing
// references stays so, and the host places each by its allocation time,
// not by the check that found it) and those of the exit path too: each
// check is two scans of all memory, 5 s apart, the longest step of a
// debug kernel's run. Without an unload the check comes after the tests.
func (a *Agent) endRun(cfg event.RunConfig, leaks bool) {
	a.kunitReport(kunitDir, a.kunitBefore)
	a.gcovReport(gcovDir, cfg.Coverage, event.StageAfterTests)
	if leaks && !cfg.Unload {
		a.kmemleakCheck(event.StageAfterTests)
	}
	if cfg.Unload {
		a.unloadModules(cfg.Modules, time.Duration(cfg.FaultGrace))
		a.gcovReport(gcovDir, cfg.Coverage, event.StageAfterUnload)
		if leaks {
			a.kmemleakCheck(event.StageAfterUnload)
		}
	}
}

func readConfig(path string) (event.RunConfig, error) {
	var cfg event.RunConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read run config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("parse run config %s: %w", path, err)
	}
	if cfg.V != event.Version {
		return cfg, fmt.Errorf("run config %s has version %d, agent speaks %d", path, cfg.V, event.Version)
	}
	return cfg, nil
}

// earlyPortWait bounds the wait for a port whose driver loadEarly loaded.
const earlyPortWait = 10 * time.Second

// loadEarly loads the RunConfig's early modules, the drivers of the
// agent's ports, before anything can be reported: its errors are reported
// once the event port is open (or on the console, if it never opens).
func (a *Agent) loadEarly() []error {
	cfg, err := readConfig(a.configPath)
	if err != nil {
		return nil // Run reports it
	}
	var errs []error
	l := &loader{compressed: compressedFinit()}
	for _, m := range cfg.Modules {
		if !m.Early {
			continue
		}
		a.portWait = earlyPortWait
		if err := l.load(m); err != nil {
			errs = append(errs, fmt.Errorf("load %s (for the ports): %w", m.Name, err))
		}
	}
	return errs
}

// loadModules loads every module in order but the early ones (loadEarly's).
// A failure is reported and the run goes on: the host decides what the
// tests' results then mean. A load that a kernel fault left hanging (see
// guarded) is reported, and the modules after it are not loaded.
func (a *Agent) loadModules(mods []event.Module, grace time.Duration) {
	l := &loader{compressed: compressedFinit()}
	var wedged string
	for _, m := range mods {
		if m.Early {
			continue
		}
		start := event.Monotonic()
		var err error
		if wedged != "" {
			err = fmt.Errorf("not loaded (%s): %s", event.Wedged, wedged)
		} else if err = a.guarded(grace, func() error { return l.load(m) }); errors.Is(err, errWedged) {
			wedged = "the load of " + moduleName(m) + " never returned after a kernel fault"
		}
		a.drainKmsg()
		ev := event.Event{Type: event.ModuleLoad, Module: &m, Start: start}
		if err != nil {
			ev.Err, ev.Errno = err.Error(), errnoOf(err)
			if a.notLoaded == nil {
				a.notLoaded = map[string]bool{}
			}
			a.notLoaded[moduleName(m)] = true
		} else if !m.Dep {
			ev.Loaded = loadedModule(moduleName(m), sectionSizer{}.of(m.Path))
		}
		a.emit(ev)
	}
}

// unloadModules unloads the modules under test, last loaded first; the
// in-kernel dependencies stay. An unload that a kernel fault left hanging
// is reported, and the unloads after it are not tried.
func (a *Agent) unloadModules(mods []event.Module, grace time.Duration) {
	var wedged string
	for i := len(mods) - 1; i >= 0; i-- {
		m := mods[i]
		if m.Dep || a.notLoaded[moduleName(m)] {
			continue
		}
		name := m.Name
		if name == "" {
			name = m.Path
		}
		start := event.Monotonic()
		var err error
		if wedged != "" {
			err = fmt.Errorf("not unloaded (%s): %s", event.Wedged, wedged)
		} else if err = a.guarded(grace, func() error { return unload(name) }); errors.Is(err, errWedged) {
			wedged = "the unload of " + moddep.Name(name) + " never returned after a kernel fault"
		}
		a.drainKmsg()
		ev := event.Event{Type: event.ModuleUnload, Module: &m, Start: start}
		if err != nil {
			ev.Err, ev.Errno = err.Error(), errnoOf(err)
		}
		a.emit(ev)
	}
}

// emit sends one event. A failing event port cannot be reported anywhere
// but the console.
func (a *Agent) emit(ev event.Event) {
	if err := a.enc.Encode(ev); err != nil {
		fmt.Fprintf(os.Stderr, "kmodvm-agent: %v\n", err)
	}
	a.lastSent.Store(event.Monotonic())
}

func (a *Agent) logf(format string, args ...any) {
	a.emit(event.Event{Type: event.Log, Msg: fmt.Sprintf(format, args...)})
}

func (a *Agent) drainKmsg() {
	if a.kmsg != nil {
		a.kmsg.Drain()
	}
}

// goSafe runs fn in a goroutine whose panic ends the run with a Done event
// and a power-off, instead of killing PID 1 (a kernel panic that would hide
// the cause).
func (a *Agent) goSafe(fn func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				a.emit(event.Event{Type: event.Done, Err: fmt.Sprintf("agent panic: %v\n%s", r, debug.Stack())})
				powerOff()
			}
		}()
		fn()
	}()
}
