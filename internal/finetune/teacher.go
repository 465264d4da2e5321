package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/needle-router/needle/internal/registry"
)

// Teacher asks an OpenAI-compatible chat model for example requests of each tool (the
// upstream playground's recipe: a strong model writes examples from the tool's description).
// Every example it writes is checked like a hand-written one (ReadExamples: the call names
// the tool and its arguments pass the tool's schema); the ones that fail are dropped and
// counted, never trained on.
type Teacher struct {
	BaseURL, APIKey, Model string
}

// TeacherReport counts what the teacher wrote per tool.
type TeacherReport struct {
	Asked, Kept, Dropped int
}

const teacherPrompt = `You write training data for a voice assistant's tool router. For the tool below, write %d different things a person might say to a watch or glasses that this tool serves, as spoken (lowercase, numbers and times in words where people say them so), with the call the assistant should make. Vary the phrasing and the values; leave an optional argument out when the request does not say it; copy string values exactly as said. Answer with JSON lines only, one per example: {"query": "...", "answers": [{"name": "%s", "arguments": {...}}]}

Tool:
%s`

// Examples returns up to n checked examples per tool.
func (t Teacher) Examples(ctx context.Context, tools []registry.Tool, n int) ([]Example, map[string]TeacherReport, error) {
	c := openai.NewClient(option.WithBaseURL(t.BaseURL), option.WithAPIKey(t.APIKey), option.WithMaxRetries(2))
	var out []Example
	rep := map[string]TeacherReport{}
	for i := range tools {
		tool := &tools[i]
		spec := tool.Spec.AppendJSON(nil)
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    shared.ChatModel(t.Model),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf(teacherPrompt, n, tool.Spec.Name, spec))},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("finetune: teacher for %s: %w", tool.Spec.Name, err)
		}
		if len(resp.Choices) == 0 {
			return nil, nil, fmt.Errorf("finetune: teacher for %s: no choices in the answer", tool.Spec.Name)
		}
		r := TeacherReport{Asked: n}
		kept := 0
		for _, line := range strings.Split(resp.Choices[0].Message.Content, "\n") {
			line = strings.TrimSpace(strings.Trim(strings.TrimSpace(line), "`"))
			if !strings.HasPrefix(line, "{") || kept >= n {
				continue
			}
			// One line at a time, against this tool only: a line naming another tool or
			// failing the schema is dropped.
			ex, err := ReadExamples(bytes.NewReader([]byte(line)), "teacher", tools[i:i+1])
			if err != nil || len(ex) != 1 || len(ex[0].Answers) == 0 {
				r.Dropped++
				continue
			}
			out = append(out, ex[0])
			kept++
		}
		r.Kept = kept
		rep[tool.Spec.Name] = r
	}
	return out, rep, nil
}

// MarshalExample renders an example as an examples-file line.
func MarshalExample(e Example) []byte {
	b, _ := json.Marshal(e)
	return b
}
