package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// VM is a running QEMU: its monitor is connected, and helper goroutines
// read its serial ports and watch for its end. Wait must be called to
// release it.
type VM struct {
	cfg     Config
	arch    *arch.Arch
	cmd     *exec.Cmd
	start   time.Time
	exited  chan struct{} // closed after cmd.Wait returned
	console *console
	mon     *monitor // nil when the QMP connection failed
	stderr  tail
	readers sync.WaitGroup
	duplex  map[string]net.Conn // host ends of the duplex ports
	cancel  context.CancelFunc
	ended   chan struct{} // closed when res is final
	cleanup []func()
	release sync.Once // of the ports and the work directory
	res     Result
	share   *os.File // the host's end of Config.ShareMiB
	ram     *os.File // the guest's RAM of a saveable VM
	dir     string   // the work directory: QMP's and a save's sockets
}

// Run boots the VM described by cfg and waits until it ends: Start, then
// Wait.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	v, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return v.Wait()
}

// Start boots the VM described by cfg and returns once QEMU runs and its
// monitor is connected. The VM ends when the guest powers off, resets or
// panics, when the deadline (ctx or cfg.Timeout) passes, when Kill is
// called, or when QEMU dies. The error is set only when QEMU could not be
// started; every way a started VM can end is a Result of Wait.
func Start(ctx context.Context, cfg Config) (*VM, error) {
	v, ports, bin, err := newVM(cfg)
	if err != nil {
		return nil, err
	}
	sock, feed, extra, err := v.makeFiles()
	if err != nil {
		v.releaseAll()
		return nil, err
	}
	v.res.Accel = cfg.Accel.Resolve(v.arch)
	if err := v.startProcess(bin, v.cfg.Args(v.res.Accel, sock), ports, extra); err != nil {
		v.releaseAll()
		return nil, err
	}
	var fed chan error
	if feed != nil {
		// QEMU's read end is closed here once it has it: a QEMU that
		// dies ends the copy with EPIPE.
		fed = make(chan error, 1)
		go func() { fed <- feed() }()
	}
	if !v.watch(ctx, sock) || fed == nil {
		return v, nil
	}
	return v.restored(3+len(ports), fed)
}

// newVM checks cfg and finds what QEMU is started with: the architecture,
// the serial ports and the binary.
func newVM(cfg Config) (*VM, []Port, string, error) {
	if cfg.Kernel == "" || cfg.Initrd == "" {
		return nil, nil, "", errors.New("qemu: Config.Kernel and Config.Initrd are required")
	}
	for _, p := range []string{cfg.Kernel, cfg.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return nil, nil, "", fmt.Errorf("qemu: %w", err)
		}
	}
	a, err := cfg.arch()
	if err != nil {
		return nil, nil, "", err
	}
	ports, err := cfg.ports(a)
	if err != nil {
		return nil, nil, "", err
	}
	bin, err := cfg.binary(a)
	if err != nil {
		return nil, nil, "", err
	}
	return &VM{cfg: cfg, arch: a, exited: make(chan struct{}), ended: make(chan struct{})}, ports, bin, nil
}

// makeFiles makes the files QEMU is started with, each removed with the VM:
// the work directory and the monitor's socket path in it, the kernel QEMU
// loads, the shared memory, the guest's RAM of a saveable VM, and a
// restore's saved state, which feed copies to extra's one file. The
// caller releases what it made when it fails.
func (v *VM) makeFiles() (sock string, feed func() error, extra []*os.File, err error) {
	dir := v.cfg.Dir
	if dir == "" {
		var release func()
		if dir, release, err = makeWorkDir(); err != nil {
			return "", nil, nil, err
		}
		v.cleanup = append(v.cleanup, release)
	}
	v.dir = dir
	sock = filepath.Join(dir, "qmp.sock")
	v.cleanup = append(v.cleanup, func() { os.Remove(sock) })
	if err := v.makeKernel(dir); err != nil {
		return "", nil, nil, err
	}
	if v.cfg.ShareMiB > 0 {
		if err := v.makeShare(dir); err != nil {
			return "", nil, nil, err
		}
	}
	if v.cfg.Saveable && v.cfg.Restore == "" {
		if err := v.makeRAM(); err != nil {
			return "", nil, nil, err
		}
	}
	if v.cfg.Restore != "" {
		var r *os.File
		if feed, r, err = v.openRestore(); err != nil {
			return "", nil, nil, err
		}
		extra = []*os.File{r}
	}
	return sock, feed, extra, nil
}

// makeKernel gives QEMU, in dir, a kernel the cache keeps compressed.
func (v *VM) makeKernel(dir string) error {
	if !IsCompressedKernel(v.cfg.Kernel) {
		return nil
	}
	var p string
	var err error
	if v.cfg.Restore != "" && v.arch.Image == arch.PVHOrBzImage && isELF(v.cfg.Kernel) {
		// A PVH vmlinux: the saved guest booted it, and
		// restoring needs the shape of its loading only.
		p, err = pvhStub(dir, v.arch.ELF)
	} else {
		p, err = unpackKernel(v.cfg.Kernel, dir)
	}
	if err != nil {
		return err
	}
	v.cleanup = append(v.cleanup, func() { os.Remove(p) })
	v.cfg.kernelPath = p
	return nil
}

// watch connects QEMU's monitor and starts the goroutine that sees the VM
// to its end, by cfg.Timeout at the latest. It reports false when the
// monitor did not answer: the VM then ends with that.
func (v *VM) watch(ctx context.Context, sock string) bool {
	timeout := v.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	v.cancel = cancel
	mon, err := connectMonitor(sock, v.exited)
	if err != nil {
		go func() { v.noMonitor(err); cancel(); close(v.ended) }()
		return false
	}
	v.mon = mon
	go func() { v.supervise(ctx); cancel(); close(v.ended) }()
	return true
}

// restored waits for QEMU to load the state Start feeds it and starts the
// guest, or ends the VM and reports why the state was not used.
func (v *VM) restored(fd int, fed chan error) (*VM, error) {
	if err := v.awaitRestore(fd, fed); err != nil {
		v.Kill()
		v.Wait()
		return nil, fmt.Errorf("%w: %s: %v", ErrRestore, v.cfg.Restore, err)
	}
	return v, nil
}

// Wait waits until the VM has ended and returns how. When it returns, QEMU
// has exited, every helper goroutine has ended, the caller's writers are no
// longer used, the duplex ports are closed and the temporary directory is
// gone. Its error is reserved for failures to clean up; it is nil today.
func (v *VM) Wait() (*Result, error) {
	<-v.ended
	v.readers.Wait()
	v.releaseAll()
	return &v.res, nil
}

// Kill ends the VM at once, without the hang diagnosis; its Result says
// ExitCanceled. It does not wait: call Wait.
func (v *VM) Kill() { v.cancel() }

// Port returns the host end of the duplex serial port named name, or nil.
// Reads return io.EOF once QEMU has exited.
func (v *VM) Port(name string) io.ReadWriter {
	if c, ok := v.duplex[name]; ok {
		return c
	}
	return nil
}

// Arch returns the VM's architecture.
func (v *VM) Arch() *arch.Arch { return v.arch }

// releaseAll closes the duplex ports and removes the work directory, once
// however many callers Wait.
func (v *VM) releaseAll() { v.release.Do(v.doRelease) }

func (v *VM) doRelease() {
	for _, c := range v.duplex {
		c.Close()
	}
	// Last in, first out, as deferred calls: the socket goes before its
	// directory.
	for i := len(v.cleanup) - 1; i >= 0; i-- {
		v.cleanup[i]()
	}
	v.cleanup = nil
}

// startProcess starts QEMU with its serial ports on pipes and socket pairs.
// QEMU gets its own process group (so it and anything it starts are killed
// together) and Pdeathsig: the kernel kills it when the thread that started
// it ends. That thread is locked to the goroutine that waits for QEMU, so it
// ends only when QEMU has exited or the host process died: no QEMU outlives
// kmodvm.
func (v *VM) startProcess(bin string, args []string, ports []Port, extra []*os.File) error {
	var theirs []*os.File // QEMU's ends, closed here once it has them
	var reads []*os.File  // our ends of one-way ports, in port order
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	v.duplex = map[string]net.Conn{}
	for _, p := range ports {
		if p.Duplex {
			ours, qemu, err := socketPair(p.Name)
			if err != nil {
				closeAll(theirs)
				closeAll(reads)
				return err
			}
			v.duplex[p.Name] = ours
			theirs, reads = append(theirs, qemu), append(reads, nil)
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(theirs)
			closeAll(reads)
			return fmt.Errorf("qemu: %w", err)
		}
		theirs, reads = append(theirs, w), append(reads, r)
	}
	theirs = append(theirs, extra...)
	reads = append(reads, make([]*os.File, len(extra))...)
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = theirs
	cmd.Stdout, cmd.Stderr = &v.stderr, &v.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	v.readers.Add(1)
	go func() {
		defer v.readers.Done()
		// Never unlocked: the thread exits with this goroutine, after
		// QEMU did.
		runtime.LockOSThread()
		v.start = time.Now()
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		_ = cmd.Wait()
		close(v.exited)
	}()
	err := <-started
	closeAll(theirs)
	if err != nil {
		closeAll(reads)
		return fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	v.cmd = cmd
	for i, p := range ports {
		r := reads[i]
		switch {
		case r == nil:
		case i == 0:
			v.console = newConsole(p.Output, v.start, v.cfg.OnPanic)
			v.readers.Add(1)
			go func() { defer v.readers.Done(); v.console.run(r) }()
		default:
			v.readers.Add(1)
			go func() { defer v.readers.Done(); drain(p.Output, r) }()
		}
	}
	if v.console == nil {
		// A duplex console is the caller's to read; panics are then
		// seen only through QMP.
		v.console = newConsole(nil, v.start, v.cfg.OnPanic)
	}
	return nil
}

// socketPair returns a connected pair of stream sockets: ours as a
// net.Conn (deadlines, Close unblocking readers), QEMU's as a file to
// inherit.
func socketPair(name string) (net.Conn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("qemu: port %s: %w", name, err)
	}
	of := os.NewFile(uintptr(fds[0]), name)
	ours, err := net.FileConn(of)
	of.Close()
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("qemu: port %s: %w", name, err)
	}
	return ours, os.NewFile(uintptr(fds[1]), name+" (qemu)"), nil
}
