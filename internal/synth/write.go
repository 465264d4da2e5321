package synth

import (
	"bufio"
	"encoding/json"
	"io"
	"runtime"
	"sync"
)

// WriteJSONL writes rows [start, start+n) as JSONL, generated on all cores and written in
// order, so the output depends only on the config and the range.
func (gn *Generator) WriteJSONL(w io.Writer, start, n uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	const chunk = 512
	workers := runtime.GOMAXPROCS(0)
	type batch struct {
		buf []byte
		err error
	}
	nChunks := (n + chunk - 1) / chunk
	results := make([]chan batch, nChunks)
	for i := range results {
		results[i] = make(chan batch, 1)
	}
	var next uint64
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		go func() {
			for {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= nChunks {
					return
				}
				var buf []byte
				var err error
				for i := c * chunk; i < min((c+1)*chunk, n); i++ {
					var b []byte
					b, err = json.Marshal(gn.Row(start + i))
					if err != nil {
						break
					}
					buf = append(append(buf, b...), '\n')
				}
				results[c] <- batch{buf, err}
			}
		}()
	}
	for _, ch := range results {
		b := <-ch
		if b.err != nil {
			return b.err
		}
		if _, err := bw.Write(b.buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}
