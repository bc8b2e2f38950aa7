// Package event is the wire protocol between the kmodvm host and its guest
// agent: newline-delimited JSON events sent by the guest on a dedicated
// serial port, and the run configuration the host hands to the guest.
//
// It is the only package imported by both host and guest code. Every line is
// one Event; lines are bounded in size, carry the protocol version, and a
// reader skips garbage instead of failing, so a truncated or corrupted stream
// loses only the damaged lines.
package event

import (
	"encoding/json"
	"time"
)

// Version is the protocol version carried by every event and configuration.
// Bump it on any incompatible change.
const Version = 1

// MaxLine bounds the size of one encoded event, newline included. A writer
// truncates oversized payloads to fit; a reader discards longer lines.
const MaxLine = 64 << 10

// Kernel parameters through which the host names the agent's channels,
// each set to a device path ("kmodvm.events=/dev/ttyS1"). Dotted, so the
// kernel keeps them off init's environment and its own warnings; the agent
// reads them from /proc/cmdline. Device names are the host's choice (they
// differ by architecture), never a constant of the guest.
const (
	// ParamEvents names the port the agent writes Events to; the console
	// stays the raw kernel log. Without it events go to the console.
	ParamEvents = "kmodvm.events"
	// ParamControl names the port of the control channel (Command and
	// Reply), used when RunConfig.Control is set.
	ParamControl = "kmodvm.control"
	// ParamShell names the port OpShell runs an interactive shell on.
	ParamShell = "kmodvm.shell"
	// ParamIdle, set to 1, makes the agent boot to its idle point: the
	// image has only the base, and the agent waits on the control port
	// for OpFresh, OpUnpack and OpStart (a snapshot's moment, before
	// anything of the run is in the guest).
	ParamIdle = "kmodvm.idle"
)

// Paths inside the guest image.
const (
	// ConfigPath holds the RunConfig as JSON.
	ConfigPath = "/kmodvm/run.json"
	// EnvConfig names the environment variable through which the agent tells
	// test binaries where the RunConfig is.
	EnvConfig = "KMODVM_CONFIG"
	// EnvGuest is set to "1" for every process the agent starts.
	EnvGuest = "KMODVM_GUEST"
)

// Type says what an Event reports.
type Type string

// Event types, in the order a healthy run emits them.
const (
	Hello        Type = "hello"         // agent up: Kernel, KmsgOffset, Jiffies set
	ModuleLoad   Type = "module_load"   // Module set; Err/Errno on failure
	BinaryStart  Type = "binary_start"  // Binary set
	Test         Type = "test"          // Binary and Test (a test2json event) set
	BinaryEnd    Type = "binary_end"    // Binary and Exit set
	ModuleUnload Type = "module_unload" // Module set; Err/Errno on failure
	Kmsg         Type = "kmsg"          // Kmsg set: one /dev/kmsg record
	KmsgBatch    Type = "kmsg_batch"    // Batch set: several records, compressed
	Kmemleak     Type = "kmemleak"      // Stage, Msg (the kmemleak report read then), Jiffies, Symbols
	KUnit        Type = "kunit"         // Suite and Msg: the suite's KTAP results file
	Gcov         Type = "gcov"          // Stage and Chunk: a piece of a module's gcov data (.gcda)
	FuzzRing     Type = "fuzz_ring"     // Chunk: a piece of the fuzz glue's ring, gzip-compressed (FuzzRingBytes), its Path the binary's name
	Log          Type = "log"           // Msg: an agent diagnostic
	Heartbeat    Type = "heartbeat"     // nothing else: the agent lives (see HeartbeatInterval)
	Done         Type = "done"          // last event before power-off; Err if the run was aborted
)

// The kernel's announcements (uevents) of every module's load, once its
// init returned, and removal, once its exit did, whoever loaded it: the
// agent, or a test reloading a module. They come at any time between
// Hello and Done. Module names the module; Loaded, on ModuleAdded, is
// where it lies (nil if it was gone by the time the agent looked); Mono
// is when the agent heard it.
const (
	ModuleAdded   Type = "module_added"
	ModuleRemoved Type = "module_removed"
)

// HeartbeatInterval is how long the agent stays silent at most: when it has
// sent nothing else for this long, it sends a Heartbeat, so that a host can
// tell an idle agent (a test computing in silence) from a dead or stopped
// one. An agent sends its first Heartbeat right after Hello: a host learns
// from it that the silence of this agent means something. A reader that
// does not know the type skips it (Collector.Handle ignores unknown types).
const HeartbeatInterval = 2 * time.Second

// Event is one line of the wire protocol.
type Event struct {
	V    int    `json:"v"`
	Seq  uint64 `json:"seq"`
	Type Type   `json:"type"`
	// Mono is the guest's CLOCK_MONOTONIC in nanoseconds, comparable with
	// kernel log timestamps.
	Mono int64 `json:"mono"`

	Kernel string      `json:"kernel,omitempty"`
	Module *Module     `json:"module,omitempty"`
	Binary string      `json:"binary,omitempty"`
	Test   *TestEvent  `json:"test,omitempty"`
	Exit   *Exit       `json:"exit,omitempty"`
	Kmsg   *KmsgRecord `json:"kmsg,omitempty"`
	Batch  *Batch      `json:"batch,omitempty"`
	// KmsgOffset, on Hello and BinaryStart, is the kernel log's clock
	// minus Mono, in nanoseconds: printk stamps records with local_clock,
	// which can run tens of milliseconds apart from CLOCK_MONOTONIC, and
	// the host matches records to tests by time.
	KmsgOffset int64 `json:"kmsg_offset,omitempty"`
	// Loaded, on a successful ModuleLoad and on ModuleAdded, is where the
	// module lies: the host attributes bare addresses (frames of a module
	// since unloaded) and places it for gdb with it.
	Loaded *LoadedModule `json:"loaded,omitempty"`
	// Jiffies, on Hello, Kmemleak and a FaultPoint's end, is the kernel's
	// tick count and the guest's monotonic clock read together: kmemleak dates an object by
	// its allocation's jiffies (6.1's stable releases and kernels from
	// 6.7 print nothing else), which the host maps to Mono with them.
	Jiffies *Jiffies `json:"jiffies,omitempty"`
	// Symbols, on Kmemleak, are the addresses at the reading of the
	// module functions Msg's backtraces name, by "func [module]": the
	// kernel names a frame when its report is read, after whatever
	// module is loaded at its address then, which may have come after
	// the one whose code ran there.
	Symbols map[string]uint64 `json:"symbols,omitempty"`
	// Stage, on Kmemleak and Gcov, says when the data was read: after the tests
	// (modules still loaded) or after unloading them.
	Stage string `json:"stage,omitempty"`
	// Start, on ModuleLoad and ModuleUnload, is when the load or unload
	// began (Mono: when it returned), so the host can tell what the
	// kernel logged during it.
	Start int64 `json:"start,omitempty"`
	// Suite, on KUnit, names the KUnit suite whose results Msg holds: the
	// KTAP of /sys/kernel/debug/kunit/<suite>/results.
	Suite string `json:"suite,omitempty"`
	// Chunk, on Gcov, is a piece of a .gcda file the kernel keeps in
	// debugfs for a module built with gcov profiling.
	Chunk *FileChunk `json:"chunk,omitempty"`
	// Point, on FaultPoint, is the sweep's point.
	Point *Point `json:"point,omitempty"`
	Msg   string `json:"msg,omitempty"`
	Err   string `json:"err,omitempty"`
	Errno int    `json:"errno,omitempty"`
}

// Module names a module being loaded or unloaded.
type Module struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	Params string `json:"params,omitempty"`
	// Dep is true for an in-kernel module loaded only because a module
	// under test depends on it.
	Dep bool `json:"dep,omitempty"`
	// Early in-kernel modules are loaded first, before the agent opens
	// its ports, which they drive (virtio_console on arm64).
	Early bool `json:"early,omitempty"`
}

// FileChunk is a piece of a binary file: Data is the file's bytes from
// Offset on. A file of Size bytes arrives as pieces in order, each small
// enough for one line; the receiver keeps a file only when its pieces
// cover it whole.
type FileChunk struct {
	// Path names the file as the guest found it. For gcov data it is
	// the path of the .gcda file the compiler recorded (the build
	// directory's, as the host saw it) without debugfs' gcov prefix.
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Data   []byte `json:"data"`
}

// MaxChunk bounds FileChunk.Data: base64 makes it a third larger, and the
// line must stay under MaxLine.
const MaxChunk = 32 << 10

// FuzzRingBytes is the size of the fuzz glue's ring of the last inputs
// (vmtest/harness/glue/ring.c): the last FuzzRingBytes of the memory a
// restored VM shares with the host. The agent sends it (FuzzRing) when a
// plain binary, the fuzz harness, dies by a signal or does not die: an
// Oops in its system call, which the kernel survives, takes the input
// the glue would have printed, and the VM then ends by itself, its
// memory's private pages with it, before the host could read them.
const FuzzRingBytes = 1 << 20

// Kmemleak and gcov stages.
const (
	StageAfterTests  = "after-tests"
	StageAfterUnload = "after-unload"
)

// TestEvent is one event of `go test -json` (cmd/test2json), as emitted by a
// guest test binary run with -test.v=test2json.
type TestEvent struct {
	Time    time.Time `json:"Time,omitzero"`
	Action  string    `json:"Action"`
	Package string    `json:"Package,omitempty"`
	Test    string    `json:"Test,omitempty"`
	Elapsed float64   `json:"Elapsed,omitempty"`
	Output  string    `json:"Output,omitempty"`
}

// Exit is how a test binary ended.
type Exit struct {
	Code     int     `json:"code"`
	Signal   string  `json:"signal,omitempty"`
	TimedOut bool    `json:"timed_out,omitempty"`
	Elapsed  float64 `json:"elapsed"` // seconds
	// Stalled: the kernel reported a fault (Fault: the report's first
	// line) while the binary ran, and the binary then made no progress
	// for its FaultGrace; it was ended as TimedOut is.
	Stalled bool   `json:"stalled,omitempty"`
	Fault   string `json:"fault,omitempty"`
	// BlockedTasks holds the kernel log written by the blocked-task dump
	// (sysrq w) taken before a timed-out or stalled binary was killed.
	BlockedTasks string `json:"blocked_tasks,omitempty"`
}

// KmsgRecord is one /dev/kmsg record.
type KmsgRecord struct {
	Seq      uint64 `json:"seq"`
	Level    int    `json:"level"`    // 0 (emerg) .. 7 (debug)
	Facility int    `json:"facility"` // 0 for the kernel
	Usec     int64  `json:"usec"`     // timestamp since boot, microseconds
	Text     string `json:"text"`
	// Cont marks a continuation fragment (flag 'c' on old kernels).
	Cont bool `json:"cont,omitempty"`
}

// Wedged starts the error of a module's load or unload that the agent gave
// up on after RunConfig.FaultGrace, and is in the error of those it then
// skipped.
const Wedged = "wedged by a kernel fault"

// RunConfig tells the guest agent what to do. The host writes it to
// ConfigPath in the per-run image layer.
type RunConfig struct {
	V int `json:"v"`
	// Modules are loaded in order: in-kernel dependencies (Dep) first, then
	// the modules under test. All paths are inside the guest.
	Modules []Module `json:"modules"`
	// Tests run in order, each in its own process.
	Tests []TestBinary `json:"tests"`
	// Unload unloads the modules under test, in reverse order, after the
	// tests (with Control: at OpPowerOff); a failed unload is reported as a
	// finding.
	Unload bool `json:"unload"`
	// FaultGrace, if set, bounds a module's load or unload that has not
	// returned this long after the kernel reported an Oops, BUG or general
	// protection fault while it ran: the fault killed (or wedged) the task
	// in the module's code. The agent reports it as failed and skips the
	// loads (or unloads) after it, instead of waiting for the VM's end.
	FaultGrace Duration `json:"fault_grace,omitempty"`
	// Kmemleak asks for leak checks on a kernel with kmemleak: clear its
	// list before loading the modules, then scan and report after the tests
	// and again after unloading.
	Kmemleak bool `json:"kmemleak,omitempty"`
	// KUnit says the kernel runs KUnit suites: after the tests, before
	// unloading, send a KUnit event for every suite the modules added to
	// /sys/kernel/debug/kunit (the directory goes with the module).
	KUnit bool `json:"kunit,omitempty"`
	// Coverage lists the directories the host built modules with gcov
	// profiling in (GCOV_PROFILE=y). The kernel keeps their counters as
	// /sys/kernel/debug/gcov/<dir>/*.gcda; the agent sends every such
	// file as Gcov events after the tests (modules loaded) and again
	// after unloading them (gcov_persist keeps the counts, the module's
	// exit included).
	Coverage []string `json:"coverage,omitempty"`
	// Control makes the agent, once the modules are loaded, wait for
	// Commands on the control port (ParamControl) instead of running
	// Tests; Tests then lists what OpRun may select. It keeps a booted
	// guest at the host's disposal: for snapshots, a shell, debuggers.
	Control bool `json:"control,omitempty"`
	// InjectFaults, if set, sweeps each module's load and unload with
	// fail-nth before the tests (FaultSweep, FaultPoint).
	InjectFaults *FaultSweep `json:"inject_faults,omitempty"`
	// ScopeFaults, if set, makes the module's own injectable calls fail
	// at random while the tests run (FaultScope).
	ScopeFaults *FaultScope `json:"scope_faults,omitempty"`
}

// DefaultTestTimeout bounds a test binary whose configuration names no
// Timeout, and is the host's default under emulation (TCG) too: one value,
// so that a run configuration written without timeouts means what the
// host would have asked for. Long enough for a suite under TCG, which runs
// kernel code tens of times slower than hardware.
const DefaultTestTimeout = 10 * time.Minute

// TestBinary is one `go test -c` binary in the guest image.
type TestBinary struct {
	Name string   `json:"name"` // import path or short name, used in reports
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"` // extra flags, e.g. -test.run
	Env  []string `json:"env,omitempty"`
	// Timeout bounds the binary's run; the agent dumps blocked tasks and
	// kills it when it expires. Zero means DefaultTestTimeout.
	Timeout Duration `json:"timeout"`
	// FaultGrace, if set, ends the binary early in the same way when the
	// kernel reports a fault (Oops, BUG, general protection fault, KASAN)
	// while it runs and its output then does not progress for this long:
	// a test left holding a lock the dead task took would otherwise wait
	// for Timeout.
	FaultGrace Duration `json:"fault_grace,omitempty"`
	// Plain says the binary is no Go test (kmodvm fuzz's libFuzzer
	// harness): it runs with Args alone, without -test.v=test2json, and is
	// one test named Name, whose output is all the binary's (standard
	// error included) and whose result is its exit status.
	Plain bool `json:"plain,omitempty"`
}

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
