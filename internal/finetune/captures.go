package finetune

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"

	"github.com/needle-router/needle/internal/registry"
)

// ReadCaptures reads the router's capture rows (--capture-dir: {"query", "tools", "answers"})
// as examples of this toolset: a row whose offered tools are not all tools of the toolset
// came from another toolset (a router captures every toolset's escalations into one file)
// and is skipped, counted in skipped. The rows kept are checked like examples (ReadExamples),
// with their line numbers in the file.
func ReadCaptures(r io.Reader, source string, tools []registry.Tool) (ex []Example, skipped int, err error) {
	have := map[string]bool{}
	for i := range tools {
		have[tools[i].Spec.Name] = true
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var row struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		ours := len(bytes.TrimSpace(line)) == 0
		if !ours && json.Unmarshal(line, &row) == nil && len(row.Tools) > 0 {
			ours = true
			for _, t := range row.Tools {
				ours = ours && have[t.Name]
			}
		} else if !ours {
			ours = true // not a capture row: ReadExamples names the line
		}
		if !ours {
			skipped++
			line = nil // blank: ReadExamples keeps counting lines
		}
		kept.Write(line)
		kept.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	ex, err = ReadExamples(&kept, source, tools)
	return ex, skipped, err
}
