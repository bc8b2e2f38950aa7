package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

func TestParseAccel(t *testing.T) {
	for in, want := range map[string]Accel{"": AccelAuto, "auto": AccelAuto, "kvm": AccelKVM, "tcg": AccelTCG} {
		if got, err := ParseAccel(in); err != nil || got != want {
			t.Errorf("ParseAccel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseAccel("hvf"); err == nil {
		t.Error("ParseAccel(hvf) succeeded")
	}
}

// Auto means KVM only where the probe finds it usable (on this project's
// machines /dev/kvm opens but the CPU lacks vmx/svm); an explicit choice
// is kept whatever the probe says.
func TestResolveNeverPicksUnusableKVM(t *testing.T) {
	usable := func() error { return nil }
	unusable := func() error { return errors.New("kvm unusable: no vmx or svm") }
	for _, c := range []struct {
		in    Accel
		probe func() error
		want  Accel
	}{
		{AccelAuto, usable, AccelKVM},
		{AccelAuto, unusable, AccelTCG},
		{"", usable, AccelKVM},
		{"", unusable, AccelTCG},
		{AccelTCG, usable, AccelTCG},
		{AccelKVM, unusable, AccelKVM},
	} {
		if got := c.in.resolve(c.probe); got != c.want {
			t.Errorf("%q with KVM usable=%v resolves to %q, want %q", c.in, c.probe() == nil, got, c.want)
		}
	}
}

// The defaults are documented on Config.Append; this keeps them in step.
func TestDefaultCommandLine(t *testing.T) {
	var c Config
	want := "console=ttyS0 quiet panic=-1 nokaslr unknown_nmi_panic panic_print=0x40 sysctl.kernel.hung_task_timeout_secs=10 sysrq_always_enabled"
	if got := c.CommandLine(); got != want {
		t.Errorf("CommandLine() = %q, want %q", got, want)
	}
	// A port's Param names its device as the guest sees it, in port order.
	c.Serial = []Port{{Name: "console"}, {Name: "events", Param: "kmodvm.events"}, {Name: "control", Duplex: true, Param: "kmodvm.control"}}
	c.Append = []string{"loglevel=8"}
	if got, want := c.CommandLine(), want+" kmodvm.events=/dev/ttyS1 kmodvm.control=/dev/ttyS2 loglevel=8"; got != want {
		t.Errorf("CommandLine() = %q, want %q", got, want)
	}
}

// Ports are chardevs on inherited descriptors from fd 3, in port order.
func TestArgsPorts(t *testing.T) {
	c := Config{Serial: []Port{{Name: "console"}, {Name: "events"}, {Name: "control", Duplex: true}}}
	joined := strings.Join(c.Args(AccelTCG, "s"), " ")
	want := "-chardev file,id=console,path=/dev/fd/3 -serial chardev:console " +
		"-chardev file,id=events,path=/dev/fd/4 -serial chardev:events " +
		"-chardev socket,id=control,fd=5 -serial chardev:control"
	if !strings.Contains(joined, want) {
		t.Errorf("args %s\nlack %s", joined, want)
	}
	c.Serial = nil
	if joined := strings.Join(c.Args(AccelTCG, "s"), " "); strings.Count(joined, "-serial") != 1 {
		t.Errorf("a Config without ports has no console: %s", joined)
	}
}

// On arm64 the console is virt's one PL011 and the other ports are
// virtio-serial ports, numbered as the guest's /dev/vport0pN.
func TestArgsArm64Ports(t *testing.T) {
	c := Config{Arch: "arm64", Serial: []Port{{Name: "console"}, {Name: "events", Param: "kmodvm.events"},
		{Name: "control", Duplex: true, Param: "kmodvm.control"}}}
	joined := strings.Join(c.Args(AccelTCG, "s"), " ")
	for _, want := range []string{
		"-M virt,gic-version=3 ", "-accel tcg -cpu max,pauth-impdef=on ",
		"-chardev file,id=console,path=/dev/fd/3 -serial chardev:console " +
			"-chardev file,id=events,path=/dev/fd/4 -device virtio-serial-device,id=vser0 " +
			"-device virtserialport,bus=vser0.0,nr=1,chardev=events,name=events " +
			"-chardev socket,id=control,fd=5 -device virtserialport,bus=vser0.0,nr=2,chardev=control,name=control",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %s\nlack %s", joined, want)
		}
	}
	if got, want := c.CommandLine(), "console=ttyAMA0 "; !strings.HasPrefix(got, want) ||
		!strings.Contains(got, " kmodvm.events=/dev/vport0p1 kmodvm.control=/dev/vport0p2") {
		t.Errorf("CommandLine() = %q", got)
	}
}

func TestPortsChecked(t *testing.T) {
	a := arch.Must(arch.Default)
	for name, ports := range map[string][]Port{
		"too many": {{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}},
		"repeated": {{Name: "a"}, {Name: "a"}},
		"unnamed":  {{Name: "a"}, {}},
		"bad id":   {{Name: "a,b"}},
	} {
		c := Config{Serial: ports}
		if _, err := c.ports(a); err == nil {
			t.Errorf("%s: ports accepted", name)
		}
	}
}

func TestArgs(t *testing.T) {
	c := Config{Kernel: "vmlinux", Initrd: "initrd", Append: []string{"loglevel=8"}}
	args := c.Args(AccelTCG, "/d/qmp.sock")
	joined := strings.Join(args, " ")
	for _, want := range []string{
		"-M q35 -nodefaults", "-display none", "-no-reboot", "-m 256", "-smp 1",
		"-accel tcg -cpu max", "-kernel vmlinux", "-initrd initrd",
		"-qmp unix:/d/qmp.sock,server=on,wait=on",
		"-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("args lack %q: %s", want, joined)
		}
	}
	if slices.Contains(args, "-nographic") {
		t.Error("-nographic adds a serial port of its own")
	}
	i := slices.Index(args, "-append")
	if cl := args[i+1]; !strings.HasPrefix(cl, "console=ttyS0 ") || !strings.HasSuffix(cl, " loglevel=8") {
		t.Errorf("command line %q: want defaults first, Config.Append last", cl)
	}
	kc := Config{MemoryMiB: 512, CPUs: 2}
	kvm := strings.Join(kc.Args(AccelKVM, "s"), " ")
	if !strings.Contains(kvm, "-accel kvm -cpu host") || !strings.Contains(kvm, "-m 512 -smp 2") {
		t.Errorf("kvm args: %s", kvm)
	}
}

const sampleMap = `ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81a592e0 t native_safe_halt
ffffffff81a592f0 T default_idle
ffffffff81a59300 D some_data
ffffffff81a59400 T last_func
`

func TestSymbolsLookup(t *testing.T) {
	syms, err := ParseSymbols(strings.NewReader(sampleMap))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr uint64
		want string
	}{
		{0xffffffff81a592eb, "native_safe_halt+0xb/0x10"},
		{0xffffffff81a592f0, "default_idle+0x0/0x110"}, // data symbols are skipped
		{0xffffffff81000010, "_text+0x10/0xa592e0"},    // aliases: the first name
		{0xffffffff80000000, "0xffffffff80000000"},     // below every symbol
		{0xffffffffc0000000, "0xffffffffc0000000"},     // far past the last one
	}
	for _, tt := range tests {
		if got := syms.Lookup(tt.addr).String(); got != tt.want {
			t.Errorf("Lookup(%#x) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

func TestParseSymbolsRejectsDebianStub(t *testing.T) {
	stub := "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n"
	if _, err := ParseSymbols(strings.NewReader(stub)); err == nil {
		t.Error("the stub System.map was accepted")
	}
}

// The panic line may arrive split over reads, with \r\n endings.
func TestConsoleDetectsPanicAcrossReads(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	// The console copies each read to its output before it scans it: a
	// chunk is written once the last one was read whole, so each is a
	// read of its own.
	read := make(chan int, 8)
	c := newConsole(writerFunc(func(p []byte) (int, error) { read <- len(p); return len(p), nil }), time.Now(), func(l string) { seen = l })
	done := make(chan struct{})
	go func() { c.run(r); close(done) }()
	for _, chunk := range []string{"[ 1.0] ok\r\n[ 1.1] Kernel pa", "nic - not syncing: boom\r\n", "[ 1.2] Kernel panic - not syncing: again\r\n"} {
		if _, err := w.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(chunk); {
			select {
			case k := <-read:
				n += k
			case <-time.After(10 * time.Second):
				t.Fatalf("the console read %d bytes of %q in 10 s", n, chunk)
			}
		}
	}
	w.Close()
	<-done
	select {
	case <-c.panicCh:
	default:
		t.Fatal("panic channel not closed")
	}
	line, _ := c.panicked()
	if want := "[ 1.1] Kernel panic - not syncing: boom"; line != want || seen != want {
		t.Errorf("panic line %q, callback %q; want %q", line, seen, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestTailKeepsTheEnd(t *testing.T) {
	var tl tail
	tl.Write([]byte(strings.Repeat("a", maxCapture)))
	tl.Write([]byte("end"))
	if s := tl.String(); len(s) != maxCapture || !strings.HasSuffix(s, "aend") {
		t.Errorf("tail kept %d bytes ending %q", len(s), s[len(s)-4:])
	}
}

// The sweep removes a work directory only when no process holds its lock:
// a PID in the name means nothing across PID namespaces sharing TMPDIR (a
// live run in another container looks dead here).
func TestSweepWorkDirsKeepsLockedOnes(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	held, release, err := makeWorkDir()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// As another PID namespace's run would look from here: its PID dead.
	foreign := filepath.Join(tmp, workDirPrefix+"999999999-1")
	if err := os.Rename(held, foreign); err != nil {
		t.Fatal(err)
	}
	gone, releaseGone, err := makeWorkDir()
	if err != nil {
		t.Fatal(err)
	}
	// A run killed with SIGKILL releases its lock, and leaves its directory.
	dead := filepath.Join(tmp, workDirPrefix+strconv.Itoa(os.Getpid())+"-2")
	if err := os.Rename(gone, dead); err != nil {
		t.Fatal(err)
	}
	releaseGone()
	if err := os.MkdirAll(filepath.Join(dead, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	sweepWorkDirs(tmp)
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a live run's work dir was swept: %v", err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead run's work dir was kept: %v", err)
	}
}

func TestReplayCommandPutsPortsOnTheTerminalFilesAndPTYs(t *testing.T) {
	cfg := Config{Kernel: "/k/vmlinux", Initrd: "/i.cpio", GDB: "tcp:127.0.0.1:1234", Serial: []Port{
		{Name: "console"}, {Name: "events", Param: "kmodvm.events"}, {Name: "control", Duplex: true},
	}}
	got := strings.Join(cfg.ReplayCommand(AccelTCG, func(p Port) string { return "/out/" + p.Name + ".log" }), " ")
	for _, want := range []string{
		"qemu-system-x86_64 ", "-chardev stdio,id=console -serial chardev:console",
		"-chardev file,id=events,path=/out/events.log -serial chardev:events",
		"-chardev pty,id=control -serial chardev:control", "-gdb tcp:127.0.0.1:1234",
		"kmodvm.events=/dev/ttyS1", "-sandbox " + Sandbox,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("replay command lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "/dev/fd/") || strings.Contains(got, "-qmp") {
		t.Errorf("replay command uses kmodvm's fds or monitor:\n%s", got)
	}
}
