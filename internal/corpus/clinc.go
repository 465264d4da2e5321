package corpus

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// ReadCLINC150 reads CLINC150 laid out as the upstream repository (clinc/oos-eval,
// data/data_full.json and data/domains.json under dir). In-scope intents become tools
// without parameters (CLINC has no slots), named after the intent and described from its
// name; out-of-scope queries want no call. Splits: train, val -> Dev, test.
func ReadCLINC150(dir string) (*Corpus, error) {
	var data map[string][][2]string
	if err := readJSON(filepath.Join(dir, "data", "data_full.json"), &data); err != nil {
		return nil, fmt.Errorf("clinc150: %w", err)
	}
	var domains map[string][]string
	if err := readJSON(filepath.Join(dir, "data", "domains.json"), &domains); err != nil {
		return nil, fmt.Errorf("clinc150: %w", err)
	}
	c := &Corpus{Source: "clinc150"}
	for _, d := range sortedKeys(domains) {
		for _, name := range domains[d] {
			words := strings.ReplaceAll(name, "_", " ")
			it := &Intent{Name: name, Domain: "clinc." + d}
			for _, desc := range []string{
				"Handle a request about " + words + ".",
				"Answer or act on the user's " + words + " request (" + strings.ReplaceAll(d, "_", " ") + ").",
			} {
				it.Variants = append(it.Variants, toolspec.Tool{Name: name, Description: desc, Params: []toolspec.Param{}})
			}
			c.Intents = append(c.Intents, it)
		}
	}
	for _, part := range []struct{ key, split string }{
		{"train", Train}, {"val", Dev}, {"test", Test},
		{"oos_train", Train}, {"oos_val", Dev}, {"oos_test", Test},
	} {
		for _, qi := range data[part.key] {
			intent := qi[1]
			if intent == "oos" {
				intent = ""
			} else if c.Intent(intent) == nil {
				return nil, fmt.Errorf("clinc150: intent %q not in domains.json", intent)
			}
			c.Examples = append(c.Examples, Example{Query: qi[0], Intent: intent, Split: part.split})
		}
	}
	return c, nil
}

// ReadBANKING77 reads BANKING77 laid out as the upstream repository
// (PolyAI-LDN/task-specific-datasets, banking_data/{train,test}.csv under dir). Every query
// wants no call: it serves as out-of-domain material for an assistant without banking tools
// (offer tools with BuildOptions.Others). Splits: train, test.
func ReadBANKING77(dir string) (*Corpus, error) {
	c := &Corpus{Source: "banking77"}
	for _, part := range []struct{ file, split string }{{"train.csv", Train}, {"test.csv", Test}} {
		rows, err := readCSV(filepath.Join(dir, "banking_data", part.file), ',')
		if err != nil {
			return nil, fmt.Errorf("banking77: %w", err)
		}
		for _, r := range rows {
			c.Examples = append(c.Examples, Example{Query: r["text"], Split: part.split})
		}
	}
	return c, nil
}

// readJSON decodes a JSON file, or its .gz sibling when only that exists.
func readJSON(path string, v any) error {
	var r io.Reader
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		f, err = os.Open(path + ".gz")
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s.gz: %w", path, err)
		}
		r = zr
	} else if err != nil {
		return err
	} else {
		defer f.Close()
		r = f
	}
	if err := json.NewDecoder(r).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
