// Package test checks the crcdemo module from inside a kmodvm guest. It is
// its own Go module, as a third-party module's tests would be.
package test

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func inVM(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("runs in a kmodvm guest")
	}
}

// crcITUT is CRC-16/CCITT as lib/crc-itu-t.c computes it (polynomial
// 0x1021, most significant bit first, no final xor).
func crcITUT(crc uint16, data []byte) uint16 {
	for _, b := range data {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func param(t *testing.T, name string) uint16 {
	t.Helper()
	b, err := os.ReadFile("/sys/module/crcdemo/parameters/" + name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(v)
}

func TestChecksumMatchesTheKernelsCRC(t *testing.T) {
	inVM(t)
	seed := param(t, "seed")
	want := crcITUT(seed, []byte("123456789"))
	if got := param(t, "checksum"); got != want {
		t.Errorf("checksum = %#04x, want %#04x (seed %#04x)", got, want, seed)
	}
}

func TestDependencyIsLoadedAndHeld(t *testing.T) {
	inVM(t)
	holders, err := os.ReadDir("/sys/module/crc_itu_t/holders")
	if err != nil {
		t.Fatalf("crc_itu_t is not loaded as a module: %v", err)
	}
	for _, h := range holders {
		if h.Name() == "crcdemo" {
			return
		}
	}
	t.Errorf("crcdemo does not hold crc_itu_t (holders: %v)", holders)
}

func TestCRCReference(t *testing.T) {
	// CRC-16/XMODEM's check value: pins crcITUT itself, on any host.
	if got := crcITUT(0, []byte("123456789")); got != 0x31c3 {
		t.Errorf("crcITUT = %#04x, want 0x31c3", got)
	}
}
