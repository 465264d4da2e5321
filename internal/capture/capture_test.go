package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/needle-router/needle/internal/synth"
	"github.com/needle-router/needle/internal/toolspec"
)

var timer = toolspec.Tool{Name: "set_timer", Description: "Start a timer.", Params: []toolspec.Param{
	{Name: "minutes", Type: "integer", Required: true}, {Name: "label", Type: "string"}}}

func readRows(t *testing.T, path string) []synth.Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []synth.Row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r synth.Row
		d := json.NewDecoder(bytesReader(sc.Bytes()))
		d.DisallowUnknownFields()
		if err := d.Decode(&r); err != nil {
			t.Fatalf("row %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestRowIsTheGeneratorsFormat(t *testing.T) {
	if !reflect.DeepEqual(jsonKeys(reflect.TypeOf(Row{})), jsonKeys(reflect.TypeOf(synth.Row{}))) ||
		!reflect.DeepEqual(jsonKeys(reflect.TypeOf(Answer{})), jsonKeys(reflect.TypeOf(synth.Answer{}))) {
		t.Fatal("capture.Row drifted from synth.Row")
	}
}

func jsonKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("json") == "-" { // not written out: not part of the format
			continue
		}
		out = append(out, t.Field(i).Tag.Get("json")+":"+t.Field(i).Type.Kind().String())
	}
	return out
}

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Arguments arrive in the cloud's order; the row keeps the tool's.
	if err := w.Record("timer for 5 minutes called tea", []toolspec.Tool{timer},
		[]toolspec.Call{{Name: "set_timer", Arguments: json.RawMessage(`{"label":"tea","minutes":5}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Record("what is love", []toolspec.Tool{timer}, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rows := readRows(t, filepath.Join(dir, FileName))
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if got := string(rows[0].Answers[0].Arguments); got != `{"minutes":5,"label":"tea"}` {
		t.Errorf("arguments %s", got)
	}
	if got := string(rows[0].Tools); got != string(toolspec.AppendJSON(nil, []toolspec.Tool{timer})) {
		// json.Marshal compacts: compare after compaction of the flat form.
		var want, have any
		json.Unmarshal(toolspec.AppendJSON(nil, []toolspec.Tool{timer}), &want)
		json.Unmarshal(rows[0].Tools, &have)
		if !reflect.DeepEqual(want, have) {
			t.Errorf("tools %s", got)
		}
	}
	if rows[1].Answers == nil || len(rows[1].Answers) != 0 {
		t.Errorf("no-call row answers %#v, want []", rows[1].Answers)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Dir: dir, MaxBytes: 400, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 20; i++ {
		if err := w.Record("timer for 5 minutes", []toolspec.Tool{timer},
			[]toolspec.Call{{Name: "set_timer", Arguments: json.RawMessage(`{"minutes":5}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 3 {
		t.Fatalf("files %v, want the current one and 2 rotated", names)
	}
	total := 0
	for _, n := range names {
		st, _ := os.Stat(n)
		if st.Size() > 400 {
			t.Errorf("%s is %d bytes, over MaxBytes", n, st.Size())
		}
		total += len(readRows(t, n))
	}
	if total == 0 || total >= 20 {
		t.Errorf("%d rows kept of 20: rotation should drop the oldest", total)
	}
	// Reopening appends to the current file.
	w.Close()
	w2, err := Open(Config{Dir: dir, MaxBytes: 400, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if w2.size == 0 {
		t.Error("reopened writer lost the current file's size")
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
