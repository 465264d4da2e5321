package corpus

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ReadSLURP reads SLURP's devel split laid out as the upstream repository
// (pswietojanski/slurp, dataset/slurp/devel.jsonl under dir). Every example is Dev: SLURP
// test is a hidden benchmark and is never read, and devel chooses settings. The intent is
// scenario_action (a few records carry the action alone in "intent"); records whose intent
// has no description here or that repeat a slot type are skipped and counted.
func ReadSLURP(dir string) (c *Corpus, skipped int, err error) {
	path := filepath.Join(dir, "dataset", "slurp", "devel.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("slurp: %w", err)
	}
	defer f.Close()
	var ex []Example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r struct {
			Scenario, Action, SentenceAnnotation string `json:"-"`
		}
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, 0, fmt.Errorf("slurp %s: %w", path, err)
		}
		r.Scenario, _ = raw["scenario"].(string)
		r.Action, _ = raw["action"].(string)
		r.SentenceAnnotation, _ = raw["sentence_annotation"].(string)
		intent := r.Scenario + "_" + r.Action
		text, slots, err := spanSlots(r.SentenceAnnotation)
		if err != nil {
			return nil, 0, fmt.Errorf("slurp: %w", err)
		}
		if _, ok := assistantIntents[intent]; !ok || repeated(slots) || !knownSlots(slots) {
			skipped++
			continue
		}
		ex = append(ex, Example{Query: text, Intent: intent, Slots: slots, Split: Dev})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("slurp: %w", err)
	}
	c, err = assistantCorpus("slurp", ex)
	return c, skipped, err
}

func knownSlots(slots []Slot) bool {
	for _, s := range slots {
		if _, ok := assistantSlots[s.Name]; !ok {
			return false
		}
	}
	return true
}
