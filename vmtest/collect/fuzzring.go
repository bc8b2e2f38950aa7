package collect

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/kmodvm/kmodvm/guest/event"
)

// FuzzRing is the fuzz glue's ring of the last inputs as the agent sent
// it (event.FuzzRing: after the fuzz harness died by a signal or did not
// die, while the kernel lived on), event.FuzzRingBytes; nil when none
// arrived whole. An error says why one that arrived cannot be read.
func (c *Collector) FuzzRing() ([]byte, error) {
	if c.fuzzRing == nil {
		return nil, nil
	}
	z := c.fuzzRing.whole()
	if z == nil {
		return nil, errors.New("the agent's copy of the fuzz inputs' ring arrived in part")
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("the agent's copy of the fuzz inputs' ring: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, event.FuzzRingBytes+1))
	if err == nil && len(b) != event.FuzzRingBytes {
		err = fmt.Errorf("%d bytes, not %d", len(b), event.FuzzRingBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("the agent's copy of the fuzz inputs' ring: %w", err)
	}
	return b, nil
}
