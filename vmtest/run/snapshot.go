package run

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/initramfs"
	"github.com/kmodvm/kmodvm/internal/cachedir"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// snapshotShareMiB is the memory a snapshot's VM shares with the host to
// receive the run's image layers (module, in-kernel dependencies, test
// binaries, configuration); larger runs pass it in several batches.
const snapshotShareMiB = 64

// errSnapshotUnused reports that a VM could not be started from the
// kernel's snapshot, nor a snapshot made, before the run's guest did
// anything: the caller boots the kernel instead.
var errSnapshotUnused = errors.New("snapshot unused")

// SnapshotDir is where a cache keeps its VM snapshots.
func SnapshotDir(cacheDir string) string { return cachedir.Layout{Root: cacheDir}.Snapshots() }

// snapshotConfig is qcfg's VM at the agent's idle point: the base layer
// only, the control port, the shared memory. Everything that differs
// between runs of one kernel (modules, tests, the run's configuration)
// comes later, so one snapshot serves them all. n is the VM's number
// (vmPlan.n): VMs of a kernel that run at once (kmodvm fuzz's jobs, the
// sweep's shares) each share a file of their own.
func snapshotConfig(qcfg qemu.Config, img *guestImage, dir string, n int) qemu.Config {
	s := qcfg
	s.Initrd = img.layers[0]
	s.Serial = append(append([]qemu.Port{}, qcfg.Serial[:2]...),
		qemu.Port{Name: "control", Duplex: true, Param: event.ParamControl})
	s.Append = append(append([]string{}, qcfg.Append...), event.ParamIdle+"=1")
	s.ShareMiB = snapshotShareMiB
	s.Saveable = true
	// In the kernel's directory, as a boot's image is: the VM's QEMU
	// command line names the run it belongs to. One for each VM (n, as
	// its artifacts): VMs of a kernel run at once, and a VM truncates
	// the file as it starts and removes it as it ends.
	s.SharePath = runcfg.ArtifactName(filepath.Join(dir, ".share.mem"), n)
	return s
}

// runSnapshot runs qcfg's guest from the kernel's snapshot, restoring it, or
// booting to the idle point and saving it when there is none (another
// process making it, this one boots without saving). how is "restored" or
// "saved" ("" when booted without saving). An error wrapping
// errSnapshotUnused means the run's guest never started.
func (run *kernelRun) runSnapshot(ctx context.Context, qcfg qemu.Config, v vmPlan) (res *qemu.Result, how string, err error) {
	r, k, img := run.r, run.k, v.img
	scfg := snapshotConfig(qcfg, img, run.dir, v.n)
	if r.cfg.Fuzz != nil {
		scfg.ShareTail = harness.RingBytes
	}
	if scfg.Initrd, err = run.idleImage(ctx, img, len(scfg.Serial), v.n); err != nil {
		return nil, "", fmt.Errorf("%w: %v", errSnapshotUnused, err)
	}
	store := &qemu.Snapshots{Dir: SnapshotDir(r.cfg.CacheRoot())}
	key, err := qemu.KeyOf(scfg, k.ID)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", errSnapshotUnused, err)
	}
	path := store.Path(key)
	var vm *qemu.VM
	if fileExists(path) {
		rcfg := scfg
		rcfg.Restore = path
		vm, err = qemu.Start(ctx, rcfg)
		switch {
		case errors.Is(err, qemu.ErrNoRAMFile):
			r.logf("%s: %v: booting", k.Name, err)
		case errors.Is(err, qemu.ErrRestore):
			r.logf("%s: %v: discarded", k.Name, err)
			if unlock, ok := store.TryLock(key); ok {
				store.Discard(key)
				unlock()
			}
		case err != nil:
			return nil, "", err
		default:
			how = "restored"
			store.Touch(key)
		}
	}
	bctx, cancel := context.WithTimeout(ctx, v.m.bootTimeout)
	defer cancel()
	if vm == nil {
		if vm, err = qemu.Start(ctx, scfg); errors.Is(err, qemu.ErrNoRAMFile) {
			return nil, "", fmt.Errorf("%w: %v", errSnapshotUnused, err)
		} else if err != nil {
			return nil, "", err
		}
		if _, err := event.NewClient(vm.Port("control")).Ready(bctx); err != nil {
			if endedWith(vm, qemu.ExitReset) {
				return nil, "", fmt.Errorf("%w: %w", errSnapshotUnused, errIdleReset)
			}
			return r.unused(vm, fmt.Errorf("the idle agent never took commands: %w", err))
		}
		if unlock, ok := store.TryLock(key); ok {
			if !fileExists(path) {
				if err := vm.Save(path); err != nil {
					r.logf("%s: %v", k.Name, err)
				} else {
					how = "saved"
				}
			}
			unlock()
		}
	}
	if err := deliver(bctx, vm, img); err != nil {
		if how == "restored" {
			// A state that restores but whose agent does not answer
			// would cost every later run this wait: make it again.
			if unlock, ok := store.TryLock(key); ok {
				store.Discard(key)
				unlock()
			}
		}
		return r.unused(vm, err)
	}
	ring := run.openRing(vm)
	res, err = vm.Wait()
	run.keepRing(res, ring, v)
	return res, how, err
}

// idleImage is the image a snapshot's guest boots: the base layer, and,
// where the agent's ports need drivers the kernel builds as modules
// (arm64's virtio-serial), those modules and a configuration that lists
// only them, for the agent to load before it opens its ports. Both are the
// kernel's, not the run's: the snapshot still serves every module. n is
// the VM's number: VMs that run at once write files of their own.
func (run *kernelRun) idleImage(ctx context.Context, img *guestImage, ports, n int) (string, error) {
	k, dir := run.k, run.dir
	a, err := arch.Lookup(k.Arch)
	if err != nil {
		return "", err
	}
	early := a.PortModules(ports)
	if len(early) == 0 {
		return img.layers[0], nil
	}
	kl, mods, err := run.r.images.Kernel(ctx, initramfs.KernelLayer{ModulesDir: k.ModulesDir, Early: early})
	if err != nil {
		return "", err
	}
	runLayer := runcfg.ArtifactName(filepath.Join(dir, "initramfs-idle-run.cpio"), n)
	if err := initramfs.WriteRun(runLayer, event.RunConfig{Modules: mods}); err != nil {
		return "", err
	}
	path := runcfg.ArtifactName(filepath.Join(dir, ".initramfs-idle.cpio"), n)
	return path, initramfs.Concat(path, img.layers[0], kl, runLayer)
}

// errIdleReset: the guest reset before its agent's idle point, as a
// KASAN kernel's PVH entry does; its bzImage may boot.
var errIdleReset = errors.New("the guest reset while booting to the idle point")

// endedWith waits a moment for vm, whose control port has failed, to end
// by itself, ends it if it does not, and reports whether it ended as how.
func endedWith(vm *qemu.VM, how qemu.ExitReason) bool {
	done := make(chan *qemu.Result, 1)
	go func() { res, _ := vm.Wait(); done <- res }()
	select {
	case res := <-done:
		return res.Exit == how
	case <-time.After(idleEndWait):
		vm.Kill()
		<-done
		return false
	}
}

// unused ends a VM whose run never started.
func (r *runner) unused(vm *qemu.VM, why error) (*qemu.Result, string, error) {
	vm.Kill()
	vm.Wait()
	return nil, "", fmt.Errorf("%w: %v", errSnapshotUnused, why)
}

// deliver makes the idle guest a fresh one (entropy, clock), gives it the
// run's image layers through the shared memory, and starts its run. The
// commands go at once (one round trip) when the layers fit the shared
// memory together, as a run's usually do; larger runs wait for each
// batch's unpacking before writing the next.
func deliver(ctx context.Context, vm *qemu.VM, img *guestImage) error {
	ctl := event.NewClient(vm.Port("control"))
	seed := make([]byte, 64)
	rand.Read(seed)
	cmds := []event.Command{{Op: event.OpFresh, Seed: seed, Now: time.Now().UnixNano()}}
	layers := img.layers[1:]
	sizes := make([]int64, len(layers))
	for i, l := range layers {
		fi, err := os.Stat(l)
		if err != nil {
			return err
		}
		sizes[i] = fi.Size()
	}
	batches, err := batchLayers(sizes, int64(snapshotShareMiB)<<20)
	if err != nil {
		return err
	}
	for n, batch := range batches {
		if n > 0 {
			// The previous batch is unpacked (its command answered):
			// the memory is free again.
			if _, err := ctl.Pipeline(ctx, cmds...); err != nil {
				return err
			}
			cmds = nil
		}
		var off int64
		for _, i := range batch {
			b, err := os.ReadFile(layers[i])
			if err != nil {
				return err
			}
			if _, err := vm.Share().WriteAt(append(b, make([]byte, padded(int64(len(b)))-int64(len(b)))...), off); err != nil {
				return err
			}
			off += padded(int64(len(b)))
		}
		cmds = append(cmds, event.Command{Op: event.OpUnpack, Offset: 0, Size: off})
	}
	_, err = ctl.Pipeline(ctx, append(cmds, event.Command{Op: event.OpStart})...)
	return err
}

// padded is a layer's size in the shared memory: archives start 4-aligned,
// the zeros between them skipped by the agent as the kernel skips them.
func padded(n int64) int64 { return (n + 3) &^ 3 }

// batchLayers groups the layers of the given sizes, in order, into batches
// that fit limit bytes of shared memory each; a layer larger than limit is
// an error (the run then boots).
func batchLayers(sizes []int64, limit int64) ([][]int, error) {
	var batches [][]int
	var cur []int
	var used int64
	for i, n := range sizes {
		n = padded(n)
		if n > limit {
			return nil, fmt.Errorf("an image layer of %d bytes exceeds the %d bytes shared with the guest", n, limit)
		}
		if used+n > limit {
			batches, cur, used = append(batches, cur), nil, 0
		}
		cur, used = append(cur, i), used+n
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, nil
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}
