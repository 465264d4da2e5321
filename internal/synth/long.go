package synth

import (
	"strings"

	"github.com/needle-router/needle/internal/toolspec"
)

// Full-length inputs: real tool catalogues carry long descriptions and many optional
// parameters. In a "long" row the offered tools get usage notes, what they are not for,
// return values and extra optional parameters (never filled by the query), until the tools
// JSON reaches a budget of about 400-1000 encoder tokens in all.

var usageNotes = []string{
	"Use this when the user asks for it directly or implies it.",
	"Only call this tool when the request clearly matches its purpose.",
	"The action runs on the user's paired device and takes effect immediately.",
	"Requires the companion app to be signed in; fails gracefully otherwise.",
	"Returns a JSON object with a status field and, on success, an identifier for the created or changed item.",
	"Returns an error if a required parameter is missing or out of range.",
	"Values the user does not mention should be left out so that defaults apply.",
	"Times are interpreted in the user's local time zone.",
	"This call is idempotent: repeating it with the same arguments has no further effect.",
	"Rate limited to a few calls per minute per user.",
	"Available on watch, glasses and phone.",
	"Results are spoken back to the user in a short sentence.",
}

type extraParam struct{ name, typ, desc string }

var extraParams = []extraParam{
	{"locale", "string", "BCP 47 locale for any text the tool returns, e.g. en-US. Defaults to the device locale."},
	{"timezone", "string", "IANA time zone name used to interpret times, e.g. Europe/Berlin. Defaults to the device zone."},
	{"dry_run", "boolean", "If true, validate the request and report what would happen without doing it."},
	{"request_id", "string", "Client-chosen identifier used to deduplicate retries of the same request."},
	{"device_id", "string", "Which paired device should perform the action; the current device if omitted."},
	{"confirm", "boolean", "Ask the user to confirm before acting. Defaults to false for low-risk actions."},
	{"source", "string", "Where the request came from, for analytics (voice, touch, automation)."},
	{"verbose", "boolean", "Return extra detail in the response."},
	{"retries", "integer", "How many times to retry on a transient failure (0-5). Defaults to 1."},
	{"format", "string", "Response format: short, full or json. Defaults to short."},
	{"callback_url", "string", "Optional URL notified when the action completes."},
	{"account", "string", "Which linked account to use when the user has several; the default account if omitted."},
	{"silent", "boolean", "Do not play a confirmation sound."},
	{"priority_level", "integer", "Scheduling priority from 1 (low) to 5 (high). Defaults to 3."},
	{"tags", "array", "Free-form tags attached to the created item for later search."},
}

// lengthen enlarges the offered tools in random order until the tools JSON reaches a budget.
func (g *gen) lengthen(offered []*instance, tools []toolspec.Tool) {
	budget := 1300 + g.r.IntN(1700) // characters of tools JSON; one tool may overshoot: about 400-1000 tokens in all
	size := len(toolspec.AppendJSON(nil, tools))
	for _, i := range g.r.Perm(len(tools)) {
		if size >= budget {
			return
		}
		before := len(tools[i].AppendJSON(nil))
		g.lengthenTool(offered[i], &tools[i])
		size += len(tools[i].AppendJSON(nil)) - before
	}
}

func (g *gen) lengthenTool(in *instance, t *toolspec.Tool) {
	var sb strings.Builder
	sb.WriteString(t.Description)
	if in.fam != nil {
		if nk := near[in.fam.key]; len(nk) > 0 {
			if nf := familyByKey[nk[g.r.IntN(len(nk))]]; nf != nil && (g.cfg.Split == HeldOut || !heldOutFamilies[nf.key]) {
				d := nf.descs[g.r.IntN(len(nf.descs))]
				sb.WriteString(" Do not use it to " + strings.ToLower(d[:1]) + strings.TrimSuffix(d[1:], ".") + "; another tool does that.")
			}
		}
	}
	for _, k := range g.r.Perm(len(usageNotes))[:2+g.r.IntN(3)] {
		sb.WriteString(" " + usageNotes[k])
	}
	t.Description = sb.String()
	// Copy the params before changing them: instances may share nothing, but stay safe.
	ps := append([]toolspec.Param(nil), t.Params...)
	for i := range ps {
		if ps[i].Required {
			ps[i].Description += pick(g, " Required.", " This value is required.", " Must be given.")
		} else {
			ps[i].Description += pick(g, " Optional.", " Optional; leave out to use the default.", " May be omitted.")
		}
	}
	names := map[string]bool{}
	for _, p := range ps {
		names[p.Name] = true
	}
	for _, k := range g.r.Perm(len(extraParams))[:1+g.r.IntN(5)] {
		e := extraParams[k]
		if names[e.name] {
			continue
		}
		p := toolspec.Param{Name: e.name, Type: e.typ, Description: e.desc}
		if e.typ == "array" {
			p.Items = &toolspec.Param{Type: "string"}
		}
		ps = append(ps, p)
	}
	t.Params = ps
}

// capDescs cuts descriptions longer than n characters at a sentence end, else at a word.
func capDescs(t *toolspec.Tool, n int) {
	t.Description = capText(t.Description, n)
	ps := append([]toolspec.Param(nil), t.Params...)
	for i := range ps {
		ps[i].Description = capText(ps[i].Description, n)
	}
	t.Params = ps
}

func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := s[:n]
	if i := strings.LastIndex(cut, ". "); i > 0 {
		return cut[:i+1]
	}
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		return cut[:i]
	}
	return cut
}
