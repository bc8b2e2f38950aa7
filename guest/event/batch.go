package event

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Batch carries several kernel log records in one event, as gzip-compressed
// newline-delimited JSON in base64. The guest's serial port moves about 100
// KB/s under TCG: a boot's few hundred records take half a second as single
// events and a tenth of that batched.
type Batch struct {
	Count int    `json:"count"`
	Gzip  string `json:"gzip"`
}

// MaxBatchRaw bounds the records a batch holds, before compression: it
// keeps the encoded event well under MaxLine.
const MaxBatchRaw = 160 << 10

// maxBatchExpanded bounds what a decoder inflates, whatever a (damaged or
// hostile) batch claims.
const maxBatchExpanded = 4 * MaxBatchRaw

// NewBatch compresses records into a Batch.
func NewBatch(records []KmsgRecord) (*Batch, error) {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	for i := range records {
		if err := enc.Encode(&records[i]); err != nil {
			return nil, err
		}
	}
	var z bytes.Buffer
	w, err := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &Batch{Count: len(records), Gzip: base64.StdEncoding.EncodeToString(z.Bytes())}, nil
}

// ErrBadBatch marks a batch that cannot be decoded.
var ErrBadBatch = errors.New("bad kmsg batch")

// Records decodes the batch. A damaged batch yields the records before the
// damage and an error.
func (b *Batch) Records() ([]KmsgRecord, error) {
	z, err := base64.StdEncoding.DecodeString(b.Gzip)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	dec := json.NewDecoder(io.LimitReader(r, maxBatchExpanded))
	var out []KmsgRecord
	for len(out) < b.Count {
		var rec KmsgRecord
		if err := dec.Decode(&rec); err != nil {
			return out, fmt.Errorf("%w: record %d of %d: %v", ErrBadBatch, len(out)+1, b.Count, err)
		}
		out = append(out, rec)
	}
	return out, nil
}
